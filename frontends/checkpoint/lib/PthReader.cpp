//===- PthReader.cpp - torch.save zip archives of state dicts -------------===//
//
// A torch.save file is a zip archive (entries stored, not compressed) with
// `<archive>/data.pkl`, a pickle of the state dict, and `<archive>/data/<key>`,
// the raw storages. The pickle machine below is strict: it knows the opcodes
// of protocols 2-4 that torch.save emits and the few callables a state dict
// needs (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter); anything else
// is an error, never code execution or a guess.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Checkpoint/Tensor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <memory>

using namespace llvm;

namespace modrwkv::checkpoint {
namespace {

//===----------------------------------------------------------------------===//
// Zip
//===----------------------------------------------------------------------===//

class ZipArchive {
public:
  static Expected<ZipArchive> open(StringRef bytes, StringRef path);
  /// The stored entry `name`, or an error naming it.
  Expected<StringRef> entry(StringRef name) const;
  /// The entry names, in directory order.
  const std::vector<std::string> &names() const { return order; }

private:
  StringRef bytes, path;
  StringMap<StringRef> entries;
  std::vector<std::string> order;
};

uint16_t le16(const char *p) { return support::endian::read16le(p); }
uint32_t le32(const char *p) { return support::endian::read32le(p); }
uint64_t le64(const char *p) { return support::endian::read64le(p); }

Expected<ZipArchive> ZipArchive::open(StringRef bytes, StringRef path) {
  ZipArchive zip;
  zip.bytes = bytes;
  zip.path = path;
  auto truncated = [&](const Twine &what) {
    return fileError(path, "truncated or corrupt zip archive (" + what + ")");
  };
  // End of central directory: 22 bytes plus a comment of up to 64 KiB.
  if (bytes.size() < 22)
    return truncated("no end-of-directory record");
  size_t eocd = StringRef::npos;
  size_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  for (size_t pos = bytes.size() - 22 + 1; pos-- > lowest;)
    if (le32(bytes.data() + pos) == 0x06054b50) {
      eocd = pos;
      break;
    }
  if (eocd == StringRef::npos)
    return truncated("no end-of-directory record");
  const char *e = bytes.data() + eocd;
  uint64_t count = le16(e + 10), dirSize = le32(e + 12),
           dirOffset = le32(e + 16);
  if (count == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff) {
    // ZIP64: locator right before the classic record.
    if (eocd < 20 || le32(e - 20) != 0x07064b50)
      return truncated("missing ZIP64 locator");
    uint64_t rec = le64(e - 20 + 8);
    if (rec > bytes.size() || bytes.size() - rec < 56 ||
        le32(bytes.data() + rec) != 0x06064b50)
      return truncated("bad ZIP64 end-of-directory record");
    const char *r = bytes.data() + rec;
    count = le64(r + 32);
    dirSize = le64(r + 40);
    dirOffset = le64(r + 48);
  }
  if (dirOffset > bytes.size() || dirSize > bytes.size() - dirOffset)
    return truncated("central directory out of bounds");

  size_t pos = dirOffset, end = dirOffset + dirSize;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - pos < 46 || le32(bytes.data() + pos) != 0x02014b50)
      return truncated("bad central directory entry");
    const char *c = bytes.data() + pos;
    uint16_t method = le16(c + 10);
    uint64_t compSize = le32(c + 20), size = le32(c + 24);
    uint16_t nameLen = le16(c + 28), extraLen = le16(c + 30),
             commentLen = le16(c + 32);
    uint64_t local = le32(c + 42);
    if (end - pos < 46ull + nameLen + extraLen + commentLen)
      return truncated("bad central directory entry");
    std::string name(c + 46, nameLen);
    // ZIP64 extra field: the 0xffffffff fields, in order.
    StringRef extra(c + 46 + nameLen, extraLen);
    while (extra.size() >= 4) {
      uint16_t id = le16(extra.data()), len = le16(extra.data() + 2);
      if (extra.size() - 4 < len)
        return truncated("bad extra field of '" + name + "'");
      if (id == 0x0001) {
        StringRef f = extra.substr(4, len);
        for (uint64_t *field : {&size, &compSize, &local})
          if (*field == 0xffffffff) {
            if (f.size() < 8)
              return truncated("bad ZIP64 field of '" + name + "'");
            *field = le64(f.data());
            f = f.drop_front(8);
          }
      }
      extra = extra.drop_front(4 + len);
    }
    if (method != 0)
      return fileError(path, "zip entry '" + name + "' is compressed (method " +
                                 Twine(method) +
                                 "); torch.save writes stored entries only");
    if (compSize != size)
      return truncated("size mismatch of '" + name + "'");
    if (local > bytes.size() || bytes.size() - local < 30 ||
        le32(bytes.data() + local) != 0x04034b50)
      return truncated("bad local header of '" + name + "'");
    const char *l = bytes.data() + local;
    uint64_t data = local + 30 + le16(l + 26) + le16(l + 28);
    if (data > bytes.size() || bytes.size() - data < size)
      return truncated("data of '" + name + "' out of bounds");
    zip.entries[name] = bytes.substr(data, size);
    zip.order.push_back(name);
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return zip;
}

Expected<StringRef> ZipArchive::entry(StringRef name) const {
  auto it = entries.find(name);
  if (it == entries.end())
    return fileError(path, "zip archive has no entry '" + name + "'");
  return it->second;
}

//===----------------------------------------------------------------------===//
// Pickle
//===----------------------------------------------------------------------===//

struct Storage {
  DType dtype;
  std::string key;
  int64_t numel;
};

struct TensorRef {
  std::shared_ptr<Storage> storage;
  int64_t offset;
  std::vector<int64_t> size, stride;
};

struct PValue;
using PRef = std::shared_ptr<PValue>;

struct PValue {
  enum Kind {
    None,
    Bool,
    Int,
    Float,
    Str,
    Tuple,
    List,
    Dict,
    Global,
    Mark,
    StorageK,
    TensorK
  } kind;
  int64_t i = 0;
  double f = 0;
  std::string s; ///< Str value, or "module.name" of a Global.
  std::vector<PRef> items;
  std::vector<std::pair<PRef, PRef>> dict;
  std::shared_ptr<Storage> storage;
  std::shared_ptr<TensorRef> tensor;

  explicit PValue(Kind kind) : kind(kind) {}
};

PRef make(PValue::Kind kind) { return std::make_shared<PValue>(kind); }

class Unpickler {
public:
  Unpickler(StringRef data, StringRef path) : data(data), path(path) {}
  Expected<PRef> run();

private:
  Error error(const Twine &message) const {
    return fileError(path, "data.pkl at byte " + Twine(opPos) + ": " + message);
  }
  Expected<StringRef> take(size_t n) {
    if (data.size() - pos < n)
      return error("truncated pickle");
    StringRef out = data.substr(pos, n);
    pos += n;
    return out;
  }
  Expected<PRef> pop() {
    if (stack.empty() || stack.back()->kind == PValue::Mark)
      return error("pickle stack underflow");
    PRef v = stack.back();
    stack.pop_back();
    return v;
  }
  Expected<std::vector<PRef>> popToMark() {
    std::vector<PRef> items;
    while (!stack.empty() && stack.back()->kind != PValue::Mark) {
      items.insert(items.begin(), stack.back());
      stack.pop_back();
    }
    if (stack.empty())
      return error("MARK not found");
    stack.pop_back();
    return items;
  }
  Expected<PRef> reduce(const PValue &callable, const PValue &args);
  Expected<PRef> persistentLoad(const PValue &pid);
  Error setItems(PValue &dict, const std::vector<PRef> &items);

  StringRef data, path;
  size_t pos = 0, opPos = 0;
  std::vector<PRef> stack;
  std::map<uint64_t, PRef> memo;
};

Expected<PRef> Unpickler::persistentLoad(const PValue &pid) {
  if (pid.kind != PValue::Tuple || pid.items.size() != 5 ||
      pid.items[0]->kind != PValue::Str || pid.items[0]->s != "storage" ||
      pid.items[1]->kind != PValue::Global ||
      pid.items[2]->kind != PValue::Str || pid.items[4]->kind != PValue::Int)
    return error("unsupported persistent id (expected a torch storage)");
  StringRef type = pid.items[1]->s;
  auto storage = std::make_shared<Storage>();
  if (type == "torch.FloatStorage")
    storage->dtype = DType::F32;
  else if (type == "torch.HalfStorage")
    storage->dtype = DType::F16;
  else if (type == "torch.BFloat16Storage")
    storage->dtype = DType::BF16;
  else
    return error("unsupported storage type " + type +
                 " (float32, float16 and bfloat16 are supported)");
  storage->key = pid.items[2]->s;
  storage->numel = pid.items[4]->i;
  if (storage->numel < 0)
    return error("negative storage size");
  PRef v = make(PValue::StorageK);
  v->storage = storage;
  return v;
}

Expected<PRef> Unpickler::reduce(const PValue &callable, const PValue &args) {
  if (callable.kind != PValue::Global || args.kind != PValue::Tuple)
    return error("REDUCE needs a global and an argument tuple");
  const std::vector<PRef> &a = args.items;
  if (callable.s == "collections.OrderedDict") {
    if (!a.empty())
      return error("OrderedDict with arguments is not supported");
    return make(PValue::Dict);
  }
  if (callable.s == "torch._utils._rebuild_parameter") {
    if (a.size() < 1 || a[0]->kind != PValue::TensorK)
      return error("_rebuild_parameter without a tensor");
    return a[0];
  }
  if (callable.s != "torch._utils._rebuild_tensor_v2")
    return error("unsupported callable " + callable.s);
  if (a.size() < 4 || a[0]->kind != PValue::StorageK ||
      a[1]->kind != PValue::Int || a[2]->kind != PValue::Tuple ||
      a[3]->kind != PValue::Tuple)
    return error("malformed _rebuild_tensor_v2 arguments");
  auto tensor = std::make_shared<TensorRef>();
  tensor->storage = a[0]->storage;
  tensor->offset = a[1]->i;
  for (auto [list, out] : {std::pair{a[2].get(), &tensor->size},
                           std::pair{a[3].get(), &tensor->stride}})
    for (const PRef &d : list->items) {
      if (d->kind != PValue::Int || d->i < 0)
        return error("tensor sizes and strides must be non-negative ints");
      out->push_back(d->i);
    }
  if (tensor->size.size() != tensor->stride.size())
    return error("tensor size and stride ranks differ");
  PRef v = make(PValue::TensorK);
  v->tensor = tensor;
  return v;
}

Error Unpickler::setItems(PValue &dict, const std::vector<PRef> &items) {
  if (dict.kind != PValue::Dict)
    return error("SETITEM(S) on a non-dict");
  if (items.size() % 2)
    return error("odd number of SETITEMS values");
  for (size_t i = 0; i < items.size(); i += 2)
    dict.dict.push_back({items[i], items[i + 1]});
  return Error::success();
}

Expected<PRef> Unpickler::run() {
  while (true) {
    opPos = pos;
    auto op = take(1);
    if (!op)
      return op.takeError();
    uint8_t code = (*op)[0];
    auto takeInt = [&](size_t n) -> Expected<uint64_t> {
      auto b = take(n);
      if (!b)
        return b.takeError();
      uint64_t v = 0;
      for (size_t k = 0; k < n; ++k)
        v |= uint64_t(uint8_t((*b)[k])) << (8 * k);
      return v;
    };
    auto pushInt = [&](int64_t v) {
      PRef p = make(PValue::Int);
      p->i = v;
      stack.push_back(p);
    };
    auto pushStr = [&](size_t lenBytes) -> Error {
      auto len = takeInt(lenBytes);
      if (!len)
        return len.takeError();
      auto s = take(*len);
      if (!s)
        return s.takeError();
      PRef p = make(PValue::Str);
      p->s = s->str();
      stack.push_back(p);
      return Error::success();
    };
    auto memoPut = [&](uint64_t key) -> Error {
      if (stack.empty())
        return error("memoize on an empty stack");
      memo[key] = stack.back();
      return Error::success();
    };
    auto memoGet = [&](uint64_t key) -> Error {
      auto it = memo.find(key);
      if (it == memo.end())
        return error("memo key " + Twine(key) + " not found");
      stack.push_back(it->second);
      return Error::success();
    };
    auto tupleOf = [&](size_t n) -> Error {
      PRef t = make(PValue::Tuple);
      for (size_t k = 0; k < n; ++k) {
        auto v = pop();
        if (!v)
          return v.takeError();
        t->items.insert(t->items.begin(), *v);
      }
      stack.push_back(t);
      return Error::success();
    };
#define TRY(expr)                                                              \
  if (Error err = (expr))                                                      \
    return std::move(err);
#define TRY_ASSIGN(var, expr)                                                  \
  auto var = (expr);                                                           \
  if (!var)                                                                    \
    return var.takeError();

    switch (code) {
    case 0x80: { // PROTO
      TRY_ASSIGN(version, takeInt(1));
      if (*version < 2 || *version > 5)
        return error("unsupported pickle protocol " + Twine(*version));
      break;
    }
    case 0x95: { // FRAME: a length we do not need.
      TRY_ASSIGN(len, takeInt(8));
      (void)len;
      break;
    }
    case '}':
      stack.push_back(make(PValue::Dict));
      break;
    case ']':
      stack.push_back(make(PValue::List));
      break;
    case ')':
      stack.push_back(make(PValue::Tuple));
      break;
    case '(':
      stack.push_back(make(PValue::Mark));
      break;
    case 'N':
      stack.push_back(make(PValue::None));
      break;
    case 0x88:
    case 0x89: {
      PRef b = make(PValue::Bool);
      b->i = code == 0x88;
      stack.push_back(b);
      break;
    }
    case 'K': {
      TRY_ASSIGN(v, takeInt(1));
      pushInt(int64_t(*v));
      break;
    }
    case 'M': {
      TRY_ASSIGN(v, takeInt(2));
      pushInt(int64_t(*v));
      break;
    }
    case 'J': {
      TRY_ASSIGN(v, takeInt(4));
      pushInt(int64_t(int32_t(uint32_t(*v))));
      break;
    }
    case 0x8a: { // LONG1: little-endian two's complement of n <= 8 bytes
      TRY_ASSIGN(n, takeInt(1));
      if (*n > 8)
        return error("integer too large");
      TRY_ASSIGN(raw, take(*n));
      uint64_t v = 0;
      for (size_t k = 0; k < *n; ++k)
        v |= uint64_t(uint8_t((*raw)[k])) << (8 * k);
      if (*n > 0 && *n < 8 && (uint8_t((*raw)[*n - 1]) & 0x80))
        v |= ~uint64_t(0) << (8 * *n);
      pushInt(int64_t(v));
      break;
    }
    case 'G': { // BINFLOAT, big endian
      TRY_ASSIGN(raw, take(8));
      uint64_t bits = support::endian::read64be(raw->data());
      PRef f = make(PValue::Float);
      std::memcpy(&f->f, &bits, 8);
      stack.push_back(f);
      break;
    }
    case 'X':
      TRY(pushStr(4));
      break;
    case 0x8c:
      TRY(pushStr(1));
      break;
    case 'c': { // GLOBAL "module\nname\n"
      size_t nl1 = data.find('\n', pos);
      size_t nl2 = nl1 == StringRef::npos ? nl1 : data.find('\n', nl1 + 1);
      if (nl2 == StringRef::npos)
        return error("truncated GLOBAL");
      PRef g = make(PValue::Global);
      g->s = (data.slice(pos, nl1) + "." + data.slice(nl1 + 1, nl2)).str();
      pos = nl2 + 1;
      stack.push_back(g);
      break;
    }
    case 0x93: { // STACK_GLOBAL
      TRY_ASSIGN(name, pop());
      TRY_ASSIGN(module, pop());
      if ((*name)->kind != PValue::Str || (*module)->kind != PValue::Str)
        return error("STACK_GLOBAL needs two strings");
      PRef g = make(PValue::Global);
      g->s = (*module)->s + "." + (*name)->s;
      stack.push_back(g);
      break;
    }
    case 'q': {
      TRY_ASSIGN(k, takeInt(1));
      TRY(memoPut(*k));
      break;
    }
    case 'r': {
      TRY_ASSIGN(k, takeInt(4));
      TRY(memoPut(*k));
      break;
    }
    case 0x94:
      TRY(memoPut(memo.size()));
      break;
    case 'h': {
      TRY_ASSIGN(k, takeInt(1));
      TRY(memoGet(*k));
      break;
    }
    case 'j': {
      TRY_ASSIGN(k, takeInt(4));
      TRY(memoGet(*k));
      break;
    }
    case 't': {
      TRY_ASSIGN(items, popToMark());
      PRef t = make(PValue::Tuple);
      t->items = std::move(*items);
      stack.push_back(t);
      break;
    }
    case 0x85:
    case 0x86:
    case 0x87:
      TRY(tupleOf(code - 0x84));
      break;
    case 'Q': { // BINPERSID
      TRY_ASSIGN(pid, pop());
      TRY_ASSIGN(storage, persistentLoad(**pid));
      stack.push_back(*storage);
      break;
    }
    case 'R': {
      TRY_ASSIGN(args, pop());
      TRY_ASSIGN(callable, pop());
      TRY_ASSIGN(result, reduce(**callable, **args));
      stack.push_back(*result);
      break;
    }
    case 'b': { // BUILD: only the metadata of an OrderedDict state dict
      TRY_ASSIGN(state, pop());
      if (stack.empty() || stack.back()->kind != PValue::Dict)
        return error("BUILD is supported on state dicts only");
      break;
    }
    case 's': {
      TRY_ASSIGN(value, pop());
      TRY_ASSIGN(key, pop());
      if (stack.empty())
        return error("SETITEM on an empty stack");
      TRY(setItems(*stack.back(), {*key, *value}));
      break;
    }
    case 'u': {
      TRY_ASSIGN(items, popToMark());
      if (stack.empty())
        return error("SETITEMS on an empty stack");
      TRY(setItems(*stack.back(), *items));
      break;
    }
    case 'a':
    case 'e': {
      std::vector<PRef> items;
      if (code == 'a') {
        TRY_ASSIGN(v, pop());
        items.push_back(*v);
      } else {
        TRY_ASSIGN(vs, popToMark());
        items = std::move(*vs);
      }
      if (stack.empty() || stack.back()->kind != PValue::List)
        return error("APPEND(S) on a non-list");
      for (PRef &v : items)
        stack.back()->items.push_back(v);
      break;
    }
    case '.': {
      TRY_ASSIGN(result, pop());
      return *result;
    }
    default:
      return error(formatv("unsupported pickle opcode {0:x2}", code));
    }
#undef TRY
#undef TRY_ASSIGN
  }
}

} // namespace

Expected<TensorMap> readPthBuffer(StringRef bytes, StringRef path,
                                  ConsumedBytes consumed) {
  auto zip = ZipArchive::open(bytes, path);
  if (!zip)
    return zip.takeError();
  // The archive's top folder is named after the file at save time.
  std::string prefix;
  for (const std::string &name : zip->names()) {
    StringRef n(name);
    if (n.ends_with("/data.pkl") && n.count('/') == 1) {
      prefix = n.drop_back(strlen("data.pkl")).str();
      break;
    }
  }
  if (prefix.empty())
    return fileError(path,
                     "zip archive has no <archive>/data.pkl: not a torch.save "
                     "checkpoint");
  if (auto order = zip->entry(prefix + "byteorder")) {
    if (order->trim() != "little")
      return fileError(path, "big-endian checkpoints are not supported");
  } else {
    consumeError(order.takeError());
  }
  auto pickle = zip->entry(prefix + "data.pkl");
  if (!pickle)
    return pickle.takeError();
  auto root = Unpickler(*pickle, path).run();
  if (!root)
    return root.takeError();
  if ((*root)->kind != PValue::Dict)
    return fileError(path, "data.pkl does not hold a state dict");

  TensorMap tensors;
  for (auto &[key, value] : (*root)->dict) {
    if (key->kind != PValue::Str)
      return fileError(path, "state dict key is not a string");
    const std::string &name = key->s;
    if (value->kind != PValue::TensorK)
      return fileError(path, "tensor '" + name + "': value is not a tensor");
    const TensorRef &ref = *value->tensor;
    auto storage = zip->entry(prefix + "data/" + ref.storage->key);
    if (!storage)
      return fileError(path, "tensor '" + name +
                                 "': " + toString(storage.takeError()));
    size_t elem = dtypeSize(ref.storage->dtype);
    if (uint64_t(ref.storage->numel) > storage->size() / elem)
      return fileError(path,
                       "tensor '" + name + "': storage '" + ref.storage->key +
                           "' holds " + Twine(storage->size()) +
                           " bytes; its " + Twine(ref.storage->numel) + " " +
                           dtypeName(ref.storage->dtype) + " elements need " +
                           Twine(ref.storage->numel * elem));
    // The view's last element must lie inside the storage.
    Tensor t;
    t.sourceDType = ref.storage->dtype;
    t.shape = ref.size;
    uint64_t last = ref.offset, count = 1;
    for (size_t d = 0; d < ref.size.size(); ++d) {
      if (ref.size[d] == 0)
        count = 0;
      else if (ref.size[d] > (int64_t(1) << 40) ||
               ref.stride[d] > (int64_t(1) << 40))
        return fileError(path,
                         "tensor '" + name + "': implausible size or stride");
      else {
        last += uint64_t(ref.size[d] - 1) * ref.stride[d];
        count *= ref.size[d];
      }
    }
    if (count > 0 && last >= uint64_t(ref.storage->numel))
      return fileError(path, "tensor '" + name + "': view (offset " +
                                 Twine(ref.offset) +
                                 ") exceeds its storage of " +
                                 Twine(ref.storage->numel) + " elements");
    t.allocate(count);
    if (count > 0) {
      // Gather row by row along the innermost dimension.
      const uint8_t *base = reinterpret_cast<const uint8_t *>(storage->data());
      size_t rank = ref.size.size();
      int64_t innerSize = rank ? ref.size.back() : 1;
      int64_t innerStride = rank ? ref.stride.back() : 1;
      std::vector<int64_t> index(rank, 0);
      for (uint64_t out = 0; out < count; out += innerSize) {
        uint64_t offset = ref.offset;
        for (size_t d = 0; d + 1 < rank; ++d)
          offset += index[d] * ref.stride[d];
        t.store(out, base + offset * elem, innerSize, innerStride);
        for (size_t d = rank > 0 ? rank - 1 : 0; d-- > 0;) {
          if (++index[d] < ref.size[d])
            break;
          index[d] = 0;
        }
      }
    }
    // Another view of the storage would read it again from the file.
    if (consumed)
      consumed(*storage);
    if (!tensors.insert({name, std::move(t)}).second)
      return fileError(path, "duplicate tensor '" + name + "'");
  }
  return tensors;
}

} // namespace modrwkv::checkpoint

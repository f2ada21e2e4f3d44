//===- SafetensorsReader.cpp - .safetensors files -------------------------===//
//
// Layout: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"},
// then the data; offsets are relative to the end of the header.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Checkpoint/Tensor.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"

using namespace llvm;

namespace modrwkv::checkpoint {

Expected<TensorMap> readSafetensorsBuffer(StringRef bytes, StringRef path,
                                          ConsumedBytes consumed) {
  auto fail = [&](const Twine &message) {
    return createStringError(inconvertibleErrorCode(),
                             (path + ": " + message).str());
  };
  if (bytes.size() < 8)
    return fail("truncated safetensors file (no header length)");
  uint64_t headerLen = support::endian::read64le(bytes.data());
  if (headerLen > bytes.size() - 8)
    return fail("truncated safetensors file (header of " + Twine(headerLen) +
                " bytes, file of " + Twine(bytes.size()) + ")");
  StringRef data = bytes.drop_front(8 + headerLen);
  auto header = json::parse(bytes.substr(8, headerLen));
  if (!header)
    return fail("bad safetensors header: " + toString(header.takeError()));
  const json::Object *object = header->getAsObject();
  if (!object)
    return fail("safetensors header is not a JSON object");

  // JSON objects are unordered; sort by data offset to keep file order.
  std::vector<std::pair<uint64_t, std::string>> order;
  TensorMap unordered;
  for (const auto &[key, value] : *object) {
    std::string name = key.str();
    if (name == "__metadata__")
      continue;
    auto bad = [&](const Twine &what) {
      return fail("tensor '" + name + "': " + what);
    };
    const json::Object *entry = value.getAsObject();
    if (!entry)
      return bad("header entry is not an object");
    std::optional<StringRef> dtypeName = entry->getString("dtype");
    const json::Array *shape = entry->getArray("shape");
    const json::Array *offsets = entry->getArray("data_offsets");
    if (!dtypeName || !shape || !offsets || offsets->size() != 2)
      return bad("header entry needs dtype, shape and data_offsets");
    Tensor t;
    if (*dtypeName == "F32")
      t.sourceDType = DType::F32;
    else if (*dtypeName == "F16")
      t.sourceDType = DType::F16;
    else if (*dtypeName == "BF16")
      t.sourceDType = DType::BF16;
    else
      return bad("unsupported dtype " + *dtypeName +
                 " (F32, F16 and BF16 are supported)");
    uint64_t count = 1;
    for (const json::Value &d : *shape) {
      std::optional<int64_t> dim = d.getAsInteger();
      if (!dim || *dim < 0 || *dim > (int64_t(1) << 40))
        return bad("bad shape");
      t.shape.push_back(*dim);
      count *= *dim;
      if (count > (uint64_t(1) << 40))
        return bad("bad shape");
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger(),
                           end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        uint64_t(*end) > data.size())
      return bad("data_offsets [" + Twine(begin.value_or(-1)) + ", " +
                 Twine(end.value_or(-1)) + "] outside the " +
                 Twine(data.size()) + "-byte data section");
    uint64_t bytesNeeded = count * dtypeSize(t.sourceDType);
    if (uint64_t(*end - *begin) != bytesNeeded)
      return bad("holds " + Twine(*end - *begin) + " bytes, its shape needs " +
                 Twine(bytesNeeded));
    t.allocate(count);
    t.store(0, reinterpret_cast<const uint8_t *>(data.data() + *begin), count,
            1);
    if (consumed)
      consumed(data.slice(*begin, *end));
    order.push_back({uint64_t(*begin), name});
    unordered.insert({name, std::move(t)});
  }
  llvm::sort(order);
  TensorMap tensors;
  for (auto &[offset, name] : order)
    tensors.insert({name, std::move(unordered.find(name)->second)});
  return tensors;
}

} // namespace modrwkv::checkpoint

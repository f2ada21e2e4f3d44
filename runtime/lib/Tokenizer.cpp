//===- Tokenizer.cpp - RWKV World tokenizer and streaming decoder ---------===//
//
// The vocabulary becomes a byte trie flattened into arrays: the first two
// levels are direct tables (256 and 65536 entries), deeper nodes a sorted
// run of (byte, child) edges.
// Encoding walks the trie from each position and keeps the last token seen,
// which is the greedy longest match.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/text.h"

#include "Errors.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using modrwkv::runtime::Failure;
using modrwkv::runtime::guarded;

namespace {

/// Appends the UTF-8 encoding of code point `cp`.
void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Parses a Python str or bytes literal (as repr() writes them) into bytes;
/// str literals are encoded as UTF-8.
std::string parseLiteral(const std::string &text, const std::string &where) {
  size_t i = 0;
  bool isBytes = false;
  if (i < text.size() && text[i] == 'b') {
    isBytes = true;
    ++i;
  }
  if (i >= text.size() || (text[i] != '\'' && text[i] != '"'))
    throw Failure(where + ": expected a quoted literal");
  char quote = text[i++];
  if (text.size() < i + 1 || text.back() != quote)
    throw Failure(where + ": unterminated literal");
  size_t end = text.size() - 1;
  std::string out;
  while (i < end) {
    char c = text[i++];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= end)
      throw Failure(where + ": dangling backslash");
    char e = text[i++];
    auto hex = [&](int digits) {
      uint32_t v = 0;
      for (int d = 0; d < digits; ++d) {
        int h = i < end ? hexValue(text[i]) : -1;
        if (h < 0)
          throw Failure(where + ": bad \\x/\\u escape");
        v = v * 16 + h;
        ++i;
      }
      return v;
    };
    switch (e) {
    case '\\':
    case '\'':
    case '"':
      out += e;
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'a':
      out += '\a';
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'v':
      out += '\v';
      break;
    case 'x': {
      uint32_t v = hex(2);
      if (isBytes)
        out += char(v);
      else
        appendUtf8(out, v);
      break;
    }
    case 'u':
    case 'U':
      if (isBytes)
        throw Failure(where + ": \\u escape in a bytes literal");
      appendUtf8(out, hex(e == 'u' ? 4 : 8));
      break;
    default:
      throw Failure(where + ": unsupported escape \\" + std::string(1, e));
    }
  }
  return out;
}

} // namespace

struct modrwkv_tokenizer {
  std::vector<std::string> bytesOf; ///< id -> bytes ("" if unused)
  // Flattened trie. Node 0 is the root.
  std::array<int32_t, 256> rootChild{};
  std::vector<int32_t> secondChild; ///< [b0 * 256 + b1] -> node or -1
  std::vector<int32_t> tokenAt;     ///< node -> token id or -1
  std::vector<uint32_t> edgeBegin; ///< node -> first edge (edgeBegin[n+1] ends)
  std::vector<uint8_t> edgeByte;   ///< sorted per node
  std::vector<int32_t> edgeChild;

  int32_t child(int32_t node, uint8_t byte) const {
    auto first = edgeByte.begin() + edgeBegin[node];
    auto last = edgeByte.begin() + edgeBegin[node + 1];
    if (last - first <= 8) { // short runs: a scan beats a search
      for (auto it = first; it != last; ++it)
        if (*it == byte)
          return edgeChild[it - edgeByte.begin()];
      return -1;
    }
    auto it = std::lower_bound(first, last, byte);
    if (it == last || *it != byte)
      return -1;
    return edgeChild[it - edgeByte.begin()];
  }

  void load(const std::string &path);
};

void modrwkv_tokenizer::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Failure(path + ": cannot open vocabulary");
  std::string line;
  int64_t lineNo = 0;
  std::vector<std::pair<std::string, int32_t>> entries;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    std::string where = path + ":" + std::to_string(lineNo);
    size_t first = line.find(' '), last = line.rfind(' ');
    if (first == std::string::npos || last <= first)
      throw Failure(where + ": expected '<id> <literal> <length>'");
    int64_t id, length;
    try {
      id = std::stoll(line.substr(0, first));
      length = std::stoll(line.substr(last + 1));
    } catch (const std::exception &) {
      throw Failure(where + ": bad id or length");
    }
    if (id <= 0 || id > (1 << 24))
      throw Failure(where + ": token id out of range");
    std::string bytes =
        parseLiteral(line.substr(first + 1, last - first - 1), where);
    if (int64_t(bytes.size()) != length || bytes.empty())
      throw Failure(where + ": literal has " + std::to_string(bytes.size()) +
                    " bytes, the line says " + std::to_string(length));
    if (size_t(id) >= bytesOf.size())
      bytesOf.resize(id + 1);
    if (!bytesOf[id].empty())
      throw Failure(where + ": duplicate token id " + std::to_string(id));
    bytesOf[id] = bytes;
    entries.push_back({bytes, int32_t(id)});
  }
  if (entries.empty())
    throw Failure(path + ": empty vocabulary");

  // Build a pointer trie, then flatten it breadth first.
  struct Build {
    std::map<uint8_t, int32_t> children;
    int32_t token = -1;
  };
  std::vector<Build> nodes(1);
  for (auto &[bytes, id] : entries) {
    int32_t node = 0;
    for (unsigned char c : bytes) {
      auto it = nodes[node].children.find(c);
      if (it == nodes[node].children.end()) {
        nodes.push_back({});
        it = nodes[node].children.emplace(c, int32_t(nodes.size() - 1)).first;
      }
      node = it->second;
    }
    if (nodes[node].token >= 0)
      throw Failure(path + ": tokens " + std::to_string(nodes[node].token) +
                    " and " + std::to_string(id) + " have the same bytes");
    nodes[node].token = id;
  }
  for (int b = 0; b < 256; ++b)
    if (!nodes[0].children.count(uint8_t(b)))
      throw Failure(path + ": no single-byte token for byte " +
                    std::to_string(b) +
                    "; the vocabulary cannot encode all input");
  tokenAt.resize(nodes.size());
  edgeBegin.assign(nodes.size() + 1, 0);
  for (size_t n = 0; n < nodes.size(); ++n) {
    tokenAt[n] = nodes[n].token;
    edgeBegin[n] = uint32_t(edgeByte.size());
    for (auto &[byte, childNode] : nodes[n].children) {
      edgeByte.push_back(byte);
      edgeChild.push_back(childNode);
    }
  }
  edgeBegin[nodes.size()] = uint32_t(edgeByte.size());
  secondChild.assign(256 * 256, -1);
  for (int b = 0; b < 256; ++b) {
    rootChild[b] = nodes[0].children.at(uint8_t(b));
    for (auto &[byte, node] : nodes[rootChild[b]].children)
      secondChild[b * 256 + byte] = node;
  }
}

struct modrwkv_decoder {
  const modrwkv_tokenizer *tokenizer;
  std::string pending, ready;
};

namespace {

/// Length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
int sequenceLength(unsigned char c) {
  if (c >= 0xc2 && c <= 0xdf)
    return 2;
  if (c >= 0xe0 && c <= 0xef)
    return 3;
  if (c >= 0xf0 && c <= 0xf4)
    return 4;
  return 0;
}

/// How many trailing bytes of `s` form an incomplete, possibly valid UTF-8
/// sequence that the next bytes may complete.
size_t incompleteTail(const std::string &s) {
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    unsigned char c = s[s.size() - back];
    if ((c & 0xc0) == 0x80)
      continue; // continuation byte: keep looking for the lead
    int need = sequenceLength(c);
    return need > int(back) ? back : 0;
  }
  return 0;
}

} // namespace

MODRWKV_API modrwkv_tokenizer *modrwkv_tokenizer_load(const char *path) {
  auto tokenizer = std::make_unique<modrwkv_tokenizer>();
  if (guarded([&] {
        if (!path)
          throw Failure("modrwkv_tokenizer_load: no path");
        tokenizer->load(path);
      }) != 0)
    return nullptr;
  return tokenizer.release();
}

MODRWKV_API void modrwkv_tokenizer_free(modrwkv_tokenizer *tokenizer) {
  delete tokenizer;
}

MODRWKV_API int64_t
modrwkv_tokenizer_vocab_size(const modrwkv_tokenizer *tokenizer) {
  return tokenizer ? int64_t(tokenizer->bytesOf.size()) : 0;
}

MODRWKV_API int64_t modrwkv_tokenize(const modrwkv_tokenizer *t,
                                     const char *bytes, int64_t n,
                                     int32_t *out) {
  if (!t || (n > 0 && (!bytes || !out))) {
    modrwkv::runtime::setLastError("modrwkv_tokenize: bad arguments");
    return -1;
  }
  const auto *data = reinterpret_cast<const unsigned char *>(bytes);
  int64_t count = 0;
  for (int64_t i = 0; i < n;) {
    int32_t node = t->rootChild[data[i]];
    int32_t best = t->tokenAt[node];
    int64_t bestLength = 1;
    if (i + 1 < n && (node = t->secondChild[data[i] * 256 + data[i + 1]]) >= 0)
      for (int64_t j = i + 1;;) {
        if (t->tokenAt[node] >= 0) {
          best = t->tokenAt[node];
          bestLength = j - i + 1;
        }
        if (++j >= n || (node = t->child(node, data[j])) < 0)
          break;
      }
    out[count++] = best;
    i += bestLength;
  }
  return count;
}

MODRWKV_API int64_t modrwkv_token_bytes(const modrwkv_tokenizer *t, int32_t id,
                                        const char **bytes) {
  static const char empty[] = "";
  if (!t || id < 0 || size_t(id) >= t->bytesOf.size() ||
      (id > 0 && t->bytesOf[id].empty())) {
    modrwkv::runtime::setLastError("unknown token id " + std::to_string(id));
    return -1;
  }
  *bytes = id == 0 ? empty : t->bytesOf[id].data();
  return id == 0 ? 0 : int64_t(t->bytesOf[id].size());
}

MODRWKV_API modrwkv_decoder *
modrwkv_decoder_create(const modrwkv_tokenizer *tokenizer) {
  if (!tokenizer) {
    modrwkv::runtime::setLastError("modrwkv_decoder_create: no tokenizer");
    return nullptr;
  }
  return new modrwkv_decoder{tokenizer, {}, {}};
}

MODRWKV_API void modrwkv_decoder_free(modrwkv_decoder *decoder) {
  delete decoder;
}

MODRWKV_API int64_t modrwkv_decoder_push(modrwkv_decoder *d, int32_t id,
                                         const char **text) {
  const char *bytes;
  int64_t n = modrwkv_token_bytes(d->tokenizer, id, &bytes);
  if (n < 0)
    return -1;
  d->pending.append(bytes, n);
  size_t hold = incompleteTail(d->pending);
  d->ready.assign(d->pending, 0, d->pending.size() - hold);
  d->pending.erase(0, d->pending.size() - hold);
  *text = d->ready.data();
  return int64_t(d->ready.size());
}

MODRWKV_API int64_t modrwkv_decoder_flush(modrwkv_decoder *d,
                                          const char **text) {
  d->ready.swap(d->pending);
  d->pending.clear();
  *text = d->ready.data();
  return int64_t(d->ready.size());
}

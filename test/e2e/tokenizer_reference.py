#!/usr/bin/env python3
"""Independent reference of the RWKV World tokenizer rule: greedy longest
match over bytes. Parses the vocabulary with Python's own literal parser and
matches by trying every length, longest first (slow and obviously right)."""
import ast
import sys


class Reference:
    def __init__(self, path):
        self.token_of, self.bytes_of = {}, {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                idx = int(line[:line.index(" ")])
                literal = line[line.index(" "):line.rindex(" ")].strip()
                value = ast.literal_eval(literal)
                raw = value.encode("utf-8") if isinstance(value, str) else value
                assert len(raw) == int(line[line.rindex(" "):]), line
                self.token_of[raw] = idx
                self.bytes_of[idx] = raw
        self.longest = max(len(b) for b in self.token_of)

    def encode(self, data: bytes):
        ids, i = [], 0
        while i < len(data):
            for n in range(min(self.longest, len(data) - i), 0, -1):
                idx = self.token_of.get(data[i:i + n])
                if idx is not None:
                    ids.append(idx)
                    i += n
                    break
            else:
                raise ValueError(f"no token for byte {data[i]}")
        return ids

    def decode(self, ids):
        return b"".join(self.bytes_of[i] for i in ids)


if __name__ == "__main__":
    ref = Reference(sys.argv[1])
    print(",".join(map(str, ref.encode(sys.stdin.buffer.read()))))

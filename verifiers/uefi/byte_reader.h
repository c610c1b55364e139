// A bounds-checked little-endian reader over a byte view: the one place the
// event log code turns bytes into integers. A read past the end fails (and
// leaves the reader where it was) instead of reading.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace attestd::uefi {

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  size_t offset() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }

  bool U8(uint8_t* v) { return Int(v); }
  bool U16(uint16_t* v) { return Int(v); }
  bool U32(uint32_t* v) { return Int(v); }
  bool U64(uint64_t* v) { return Int(v); }

  // `n` bytes as a view into the input.
  bool Bytes(uint64_t n, std::string_view* out) {
    if (n > left()) return false;
    *out = bytes_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool Skip(uint64_t n) {
    std::string_view ignored;
    return Bytes(n, &ignored);
  }
  std::string_view Rest() const { return bytes_.substr(pos_); }

 private:
  // Assembled byte by byte: independent of host endianness and alignment.
  template <typename T>
  bool Int(T* v) {
    if (sizeof(T) > left()) return false;
    T x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      x |= static_cast<T>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
    }
    *v = x;
    pos_ += sizeof(T);
    return true;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace attestd::uefi

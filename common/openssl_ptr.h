// Deleters for OpenSSL objects held in std::unique_ptr, one template instead
// of a hand-written struct per type and file:
//   std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> n(BN_new());
#pragma once

namespace attestd {

template <auto FreeFn>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

}  // namespace attestd

// Flush-to-zero and denormals-are-zero for the scope of a training or inference call.
// Adam's moments for weights whose gradient stays 0 (blank pixels, dead ReLUs) decay into
// subnormal floats, which x86 processes dozens of times slower; flushing them changes
// no result that matters and removes the slowdown.
#pragma once

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace caviar {

class FlushDenormals {
 public:
#if defined(__SSE2__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormals() { _mm_setcsr(saved_); }
#else
  FlushDenormals() = default;
#endif
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

#if defined(__SSE2__)
 private:
  static constexpr unsigned kFlushToZero = 0x8000;
  static constexpr unsigned kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
};

// The calling thread's floating-point control word (its flush modes among others), and
// a scope that gives another thread the same, for work it does on a caller's behalf.
#if defined(__SSE2__)
inline unsigned floatControl() { return _mm_getcsr(); }
#else
inline unsigned floatControl() { return 0; }
#endif

class AdoptFloatControl {
 public:
#if defined(__SSE2__)
  explicit AdoptFloatControl(unsigned control) : saved_(_mm_getcsr()) { _mm_setcsr(control); }
  ~AdoptFloatControl() { _mm_setcsr(saved_); }
#else
  explicit AdoptFloatControl(unsigned) {}
#endif
  AdoptFloatControl(const AdoptFloatControl&) = delete;
  AdoptFloatControl& operator=(const AdoptFloatControl&) = delete;

#if defined(__SSE2__)
 private:
  unsigned saved_;
#endif
};

}  // namespace caviar

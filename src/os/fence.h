/* fence.h - memory fences that ThreadSanitizer can follow.
 *
 * TSan does not model atomic_thread_fence, and gcc refuses to build it
 * under -fsanitize=thread (-Wtsan). Under TSan a fence becomes a
 * read-modify-write of one shared word with the same order: every fencer
 * then synchronises through that word, a superset of what the fences
 * promise, so TSan sees each edge the real fences give and reports no
 * false race. Elsewhere it is the real fence. */
#ifndef MP_INTERNAL_FENCE_H
#define MP_INTERNAL_FENCE_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define MP__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP__TSAN 1
#endif
#endif

/* MP__NO_TSAN marks a function whose reads may race by design (a look
 * at memory another thread may be reusing, whose answer is checked again
 * under a lock): TSan leaves it alone. */
#ifdef MP__TSAN
#define MP__NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define MP__NO_TSAN
#endif

#ifdef MP__TSAN
extern _Atomic unsigned mp__fence_word;
#define mp__fence(order) ((void)atomic_fetch_add_explicit(&mp__fence_word, 0, (order)))
#else
#define mp__fence(order) atomic_thread_fence(order)
#endif

/* mp__fence_after_rmw is a full fence for code that has just done an
 * atomic read-modify-write (a lock's release exchange, say) and needs
 * everything before that RMW ordered before the loads that follow: on
 * x86-64 every locked instruction already is a full barrier, so only the
 * compiler must be held back (Linux's smp_mb__after_atomic); elsewhere,
 * and under TSan, it is mp__fence. */
#if defined(__x86_64__) && !defined(MP__TSAN)
#define mp__fence_after_rmw() atomic_signal_fence(memory_order_seq_cst)
#else
#define mp__fence_after_rmw() mp__fence(memory_order_seq_cst)
#endif

#endif

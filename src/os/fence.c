/* fence.c - the word that stands in for fences under ThreadSanitizer. */
#include "os/fence.h"

#ifdef MP__TSAN
_Atomic unsigned mp__fence_word;
#else
/* ISO C wants a translation unit to declare something. */
typedef int mp__fence_unused;
#endif

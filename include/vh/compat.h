/* vh/compat.h - the only place compiler extensions are named. */
#ifndef VH_COMPAT_H
#define VH_COMPAT_H

#if defined(__GNUC__) || defined(__clang__)
#define VH_MUSTCHECK __attribute__((warn_unused_result))
#define VH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define VH_SENTINEL __attribute__((sentinel))
#else
#define VH_MUSTCHECK
#define VH_PRINTF(fmt, args)
#define VH_SENTINEL
#endif

#define VH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

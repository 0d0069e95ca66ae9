#include <linux/videodev2.h>
#include <libv4l2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>

// VIDIOC_* request codes are built by the _IOR/_IOWR function-like macros, which Swift cannot
// import. Each is exposed here as an inline function returning the same number.
static inline unsigned long digitd_VIDIOC_QUERYCAP(void) { return VIDIOC_QUERYCAP; }
static inline unsigned long digitd_VIDIOC_ENUM_FMT(void) { return VIDIOC_ENUM_FMT; }
static inline unsigned long digitd_VIDIOC_G_FMT(void) { return VIDIOC_G_FMT; }
static inline unsigned long digitd_VIDIOC_S_FMT(void) { return VIDIOC_S_FMT; }
static inline unsigned long digitd_VIDIOC_S_PARM(void) { return VIDIOC_S_PARM; }
static inline unsigned long digitd_VIDIOC_REQBUFS(void) { return VIDIOC_REQBUFS; }
static inline unsigned long digitd_VIDIOC_QUERYBUF(void) { return VIDIOC_QUERYBUF; }
static inline unsigned long digitd_VIDIOC_QBUF(void) { return VIDIOC_QBUF; }
static inline unsigned long digitd_VIDIOC_DQBUF(void) { return VIDIOC_DQBUF; }
static inline unsigned long digitd_VIDIOC_STREAMON(void) { return VIDIOC_STREAMON; }
static inline unsigned long digitd_VIDIOC_STREAMOFF(void) { return VIDIOC_STREAMOFF; }

// v4l2_open is variadic (mode_t only with O_CREAT), which Swift cannot call; a camera is never
// created, so the two-argument form is enough.
static inline int digitd_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }

// v4l2_ioctl is variadic too; every V4L2 request digitd makes passes one pointer.
static inline int digitd_v4l2_ioctl(int fd, unsigned long request, void *argument) {
    return v4l2_ioctl(fd, request, argument);
}

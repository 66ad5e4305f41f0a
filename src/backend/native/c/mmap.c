// Memory-mapped model files: the records of the mappings made by mmapRange, the pins of weights
// used in place, and dropping mapped pages once a weight was copied out of them. The ArrayBuffer
// over a mapping (its creation, finalizer and detach) lives in the glue (addon.c).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addon_internal.h"

// Live mappings made by mmapRange (N-API calls and finalizers all run on the JS thread).
static ln_mapping *mappings;

ln_mapping *ln_mapping_pin(const void *p) {
  for (ln_mapping *m = mappings; m; m = m->next)
    if ((const char *)p >= (const char *)m->base && (const char *)p < (const char *)m->base + m->len) {
      m->pins++;
      return m;
    }
  return NULL;
}

// The record is shared by the mapping's ArrayBuffer and the weights pinning it, and freed by
// whichever lets go last. While JS runs, a pinned buffer cannot be collected (the weight holds a
// reference to its view), but at environment teardown node runs every finalizer regardless, the
// buffer's first: freeing the record there made the weight finalizers' unpin write into freed
// heap (SIGSEGV at exit in node::Environment::RunAndClearNativeImmediates).
static void mapping_free(ln_mapping *m) {
  if (!m->released) munmap(m->base, m->len);
  free(m);
}

void ln_mapping_unpin(ln_mapping *m) {
  if (--m->pins == 0 && m->finalized) mapping_free(m);
}

void ln_mapping_finalize(ln_mapping *m) {
  for (ln_mapping **p = &mappings; *p; p = &(*p)->next)
    if (*p == m) {
      *p = m->next;
      break;
    }
  m->finalized = 1;
  if (m->pins == 0) mapping_free(m);  // else the last unpin frees it (teardown order)
}

ln_mapping *ln_mapping_find(const void *p) {
  for (ln_mapping *m = mappings; m; m = m->next)
    if ((const char *)p >= (const char *)m->base && (const char *)p < (const char *)m->base + m->len) return m;
  return NULL;
}

void ln_mapping_unmap_early(ln_mapping *m) {
  munmap(m->base, m->len);
  m->released = 1;
  for (ln_mapping **p = &mappings; *p; p = &(*p)->next)
    if (*p == m) {
      *p = m->next;
      break;
    }
}

// After a weight was copied out of a file mapping: drop the mapped pages it covered, so resident
// memory holds the weights once (the pages are clean and private: a later read of the view
// re-reads the same bytes from the file). Bytes not inside a mapping of ours are left alone.
void ln_release_mapped(const void *p, size_t len) {
  const uintptr_t a = (uintptr_t)p, e = a + len;
  for (ln_mapping *m = mappings; m; m = m->next) {
    const uintptr_t b = (uintptr_t)m->base;
    if (a < b || e > b + m->len) continue;
    const long page = sysconf(_SC_PAGESIZE);
    const uintptr_t s = (a + page - 1) / page * page, t = e / page * page;
    if (t > s) madvise((void *)s, t - s, MADV_DONTNEED);
    return;
  }
}

// The file's bytes [off, off+len) mapped copy-on-write (writes never reach the file); the pages
// are read from the page cache on first touch: opening a 7B model costs no reads.
ln_mapping *ln_mapping_open(const char *path, int64_t off, int64_t len, int64_t *delta) {
  long page = sysconf(_SC_PAGESIZE);
  int64_t start = off / page * page;
  *delta = off - start;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0 || off + len > size) {
    close(fd);
    return NULL;
  }
  void *base = mmap(NULL, (size_t)(len + *delta), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)start);
  close(fd);
  if (base == MAP_FAILED) return NULL;
  ln_mapping *m = (ln_mapping *)malloc(sizeof(ln_mapping));
  if (!m) {
    munmap(base, (size_t)(len + *delta));
    return NULL;
  }
  m->base = base;
  m->len = (size_t)(len + *delta);
  m->pins = 0;
  m->released = 0;
  m->finalized = 0;
  m->next = mappings;
  mappings = m;
  return m;
}

void ln_mapping_discard(ln_mapping *m) {
  mappings = m->next;
  munmap(m->base, m->len);
  free(m);
}

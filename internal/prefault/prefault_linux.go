//go:build linux && cgo

package prefault

/*
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

// populate maps the loadable segments of the first object listed, the
// program itself, that are not writable: writable pages would be copied
// on the first write anyway.
static int populate(struct dl_phdr_info *info, size_t size, void *data) {
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || (p->p_flags & PF_W)) {
			continue;
		}
		uintptr_t start = (info->dlpi_addr + p->p_vaddr) & ~(uintptr_t)4095;
		uintptr_t end = info->dlpi_addr + p->p_vaddr + p->p_memsz;
		madvise((void *)start, end - start, MADV_POPULATE_READ);
	}
	return 1;
}

// A constructor runs before the Go runtime starts, so the runtime's own
// start and every package's init find their pages mapped.
__attribute__((constructor)) static void ctsec_prefault(void) {
	dl_iterate_phdr(populate, 0);
}
*/
import "C"

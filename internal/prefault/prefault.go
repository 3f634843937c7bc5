// Package prefault maps the running program's read-only segments (code,
// read-only data, Go's tables) into its address space in one system call
// before anything runs, when it is linked in (a blank import).
//
// A ctsec command touches most of its 13 MB of code and tables while it
// starts: on demand that is a page fault per 64 KB window, 150 of them,
// about a tenth of a lean command's CPU at start-up (docs/startup.md). The pages
// are the page cache's, shared and not copied; populating them costs one
// madvise(MADV_POPULATE_READ), Linux 5.14 or later. An older kernel
// refuses it and the pages come on demand as before.
package prefault

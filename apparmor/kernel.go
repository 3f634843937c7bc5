package apparmor

import (
	"context"
	"path/filepath"

	"github.com/ctsec/ctsec/internal/execx"
)

// LiveKernel reports whether profiles under root can be loaded into the
// running kernel: root is this host and its kernel has AppArmor. When not,
// the reason says why, for people.
func LiveKernel(ctx context.Context, root string) (bool, string) {
	if root == "" {
		root = "/"
	}
	if filepath.Clean(root) != "/" {
		return false, "the root " + root + " is not this host: its kernel is not the running one"
	}
	if s := DetectSupport(ctx, root); !s.KernelEnabled || !s.SecurityFS {
		return false, "AppArmor is not enabled in this kernel (no /sys/kernel/security/apparmor)"
	}
	return true, ""
}

// KernelReload loads the profiles of file into the running kernel,
// replacing those of the same names, and writes the cache, as load does.
// A rollback uses it to make the kernel enforce the restored policy.
func KernelReload(ctx context.Context, r execx.Runner, file string) error {
	return kernelLoad(ctx, r, "-r", file)
}

// KernelUnload removes the profiles file defines from the running kernel.
// It reads the file, so it runs before a rollback removes one a change
// created.
func KernelUnload(ctx context.Context, r execx.Runner, file string) error {
	return kernelLoad(ctx, r, "-R", file)
}

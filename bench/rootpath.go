package bench

import (
	"path/filepath"

	"github.com/ctsec/ctsec/internal/rootfs"
)

// inRoot maps a host path to the file under root, following symlinks the
// way the host would see them (rootfs: an absolute link target is taken
// relative to root, and ".." never climbs above it). os.Stat on root+path
// would follow a mounted image's /var/run -> /run link into this machine's
// /run. A path whose directory is missing maps to where it would be.
func inRoot(root, p string) (string, error) {
	if root == "" || root == "/" {
		return p, nil
	}
	full, err := rootfs.New(root).Resolve(p)
	if rootfs.IsNotExist(err) {
		return filepath.Join(root, filepath.Clean("/"+p)), nil
	}
	return full, err
}

package bench

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// inRoot maps a host path to the file under root, following symlinks the
// way the host would see them: an absolute link target is taken relative
// to root, and ".." never climbs above it. os.Stat on root+path would
// follow a mounted image's /var/run -> /run link into this machine's /run.
func inRoot(root, p string) (string, error) {
	if root == "" || root == "/" {
		return p, nil
	}
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links under %s", p, root)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return filepath.Join(root, cur), nil
}

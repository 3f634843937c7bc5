package trial

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"github.com/moby/moby/client"
)

// Image facts come from the engine, without running anything: the image's
// configuration (user, entrypoint, command, volumes, ports, environment)
// and its layers, read from `docker save`: files carrying capabilities
// (the security.capability extended attribute, which docker keeps in the
// layer tar as SCHILY.xattr.security.capability), setuid and setgid
// executables, and the files it ships under /tmp and /run. Layers are
// applied in order with their whiteouts, so a file a later layer deletes
// does not count.

// MaxImageScan bounds how much of an image's layers is read.
const MaxImageScan = 4 << 30

// maxImageEntries bounds the files an image may hold for the scan, and
// maxWhiteouts the files its layers delete (each deletion walks the files).
const (
	maxImageEntries = 2_000_000
	maxWhiteouts    = 10_000
)

// Image is what an image says about itself.
type Image struct {
	Facts compose.ImageFacts
	// files is the image's final filesystem: path → directory or not.
	files map[string]bool
}

// FilesUnder lists the image's files and directories below dir.
func (im *Image) FilesUnder(dir string) []string {
	var out []string
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range im.files {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// IsDir reports whether the image holds p as a directory.
func (im *Image) IsDir(p string) bool { return im.files[p] }

// Inspect reads an image on the engine.
func Inspect(ctx context.Context, c *client.Client, ref string) (*Image, error) {
	res, err := c.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	im := &Image{Facts: compose.ImageFacts{Ref: ref, ID: res.ID}}
	if cfg := res.Config; cfg != nil {
		f := &im.Facts
		f.User = cfg.User
		f.Entrypoint, f.Cmd = cfg.Entrypoint, cfg.Cmd
		for v := range cfg.Volumes {
			f.Volumes = append(f.Volumes, path.Clean(v))
		}
		for p := range cfg.ExposedPorts {
			f.ExposedPorts = append(f.ExposedPorts, p)
		}
		sort.Strings(f.Volumes)
		sort.Strings(f.ExposedPorts)
		f.Healthcheck = cfg.Healthcheck != nil && len(cfg.Healthcheck.Test) > 0 && cfg.Healthcheck.Test[0] != "NONE"
		if h := compose.HeapSetting(cfg.Env, append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)); h != nil {
			f.Heap = h
		}
	}
	rc, err := c.ImageSave(ctx, []string{res.ID})
	if err != nil {
		return nil, fmt.Errorf("reading the layers of image %s: %w", ref, err)
	}
	defer rc.Close()
	if err := im.scan(rc); err != nil {
		return nil, fmt.Errorf("reading the layers of image %s: %w", ref, err)
	}
	return im, nil
}

// layer is one layer's entries, in tar order.
type layer []entry

type entry struct {
	path             string
	dir              bool
	whiteout, opaque bool
	caps             *compose.FileCap
	setuid           bool
}

// scan reads a `docker save` stream (legacy layout or OCI layout) and
// computes the facts its layers give.
func (im *Image) scan(r io.Reader) error {
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	layers := map[string]layer{}
	var manifest []struct{ Layers []string }
	entries, whiteouts := 0, 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if cr.n > MaxImageScan {
			return fmt.Errorf("larger than %d GiB; file capabilities and setuid executables not checked", MaxImageScan>>30)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		switch {
		case name == "manifest.json":
			b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &manifest); err != nil {
				return fmt.Errorf("manifest.json: %w", err)
			}
		case hdr.Typeflag == tar.TypeReg && (strings.HasSuffix(name, "/layer.tar") || strings.HasPrefix(name, "blobs/")):
			l, n, err := readLayer(tar.NewReader(tr), maxImageEntries-entries)
			if err != nil {
				if strings.HasPrefix(name, "blobs/") {
					continue // a config or manifest blob, not a layer
				}
				return fmt.Errorf("%s: %w", name, err)
			}
			entries += n
			for _, e := range l {
				if e.whiteout || e.opaque {
					whiteouts++
				}
			}
			if whiteouts > maxWhiteouts {
				return fmt.Errorf("more than %d deleted files in the layers", maxWhiteouts)
			}
			layers[name] = l
		}
	}
	if len(manifest) != 1 {
		return fmt.Errorf("manifest.json lists %d images, want 1", len(manifest))
	}
	im.apply(layers, manifest[0].Layers)
	return nil
}

func readLayer(tr *tar.Reader, budget int) (layer, int, error) {
	var l layer
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return l, len(l), nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(l) >= budget {
			return nil, 0, fmt.Errorf("more than %d files", maxImageEntries)
		}
		p := path.Clean("/" + hdr.Name)
		e := entry{path: p, dir: hdr.Typeflag == tar.TypeDir}
		base := path.Base(p)
		switch {
		case base == ".wh..wh..opq":
			e.path, e.opaque = path.Dir(p), true
		case strings.HasPrefix(base, ".wh."):
			e.path, e.whiteout = path.Join(path.Dir(p), strings.TrimPrefix(base, ".wh.")), true
		case hdr.Typeflag == tar.TypeReg:
			e.setuid = hdr.Mode&0o6000 != 0 && hdr.Mode&0o111 != 0
			if v, ok := hdr.PAXRecords["SCHILY.xattr.security.capability"]; ok {
				e.caps = decodeCaps(p, []byte(v))
			}
		}
		l = append(l, e)
	}
}

// decodeCaps reads a vfs_cap_data (include/uapi/linux/capability.h):
// magic and flags, then permitted and inheritable masks, 32 bits each, one
// pair (revision 1) or two (2 and 3; 3 adds a root id).
func decodeCaps(p string, b []byte) *compose.FileCap {
	if len(b) < 12 {
		return nil
	}
	magic := binary.LittleEndian.Uint32(b)
	rev := magic & 0xFF000000
	fc := &compose.FileCap{Path: p, Effective: magic&1 != 0}
	mask := uint64(binary.LittleEndian.Uint32(b[4:]))
	switch rev {
	case 0x01000000:
	case 0x02000000, 0x03000000:
		if len(b) < 20 {
			return nil
		}
		mask |= uint64(binary.LittleEndian.Uint32(b[12:])) << 32
	default:
		return nil
	}
	fc.Caps = capabilities.FromMask(mask)
	if len(fc.Caps) == 0 {
		return nil
	}
	return fc
}

// apply lays the layers over each other in order.
func (im *Image) apply(layers map[string]layer, order []string) {
	type state struct {
		dir    bool
		caps   *compose.FileCap
		setuid bool
	}
	fs := map[string]state{}
	removeUnder := func(dir string, self bool) {
		prefix := dir + "/"
		for p := range fs {
			if strings.HasPrefix(p, prefix) || (self && p == dir) {
				delete(fs, p)
			}
		}
	}
	for _, name := range order {
		for _, e := range layers[strings.TrimPrefix(name, "./")] {
			switch {
			case e.opaque:
				removeUnder(e.path, false)
			case e.whiteout:
				removeUnder(e.path, true)
			default:
				if prev, ok := fs[e.path]; ok && prev.dir && !e.dir {
					removeUnder(e.path, false) // a file replacing a directory
				}
				fs[e.path] = state{dir: e.dir, caps: e.caps, setuid: e.setuid}
			}
		}
	}
	im.files = make(map[string]bool, len(fs))
	f := &im.Facts
	for p, st := range fs {
		im.files[p] = st.dir
		if st.caps != nil {
			f.FileCaps = append(f.FileCaps, *st.caps)
		}
		if st.setuid {
			f.Setuid = append(f.Setuid, p)
		}
		if !st.dir && (strings.HasPrefix(p, "/tmp/") || strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/run/")) {
			f.Shipped = append(f.Shipped, p)
		}
	}
	sort.Slice(f.FileCaps, func(i, j int) bool { return f.FileCaps[i].Path < f.FileCaps[j].Path })
	sort.Strings(f.Setuid)
	sort.Strings(f.Shipped)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

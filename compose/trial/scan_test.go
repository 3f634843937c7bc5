package trial

import (
	"archive/tar"
	"bytes"
	"slices"
	"testing"
)

// saveTar builds a `docker save` stream of layers, each a list of tar
// headers, in the legacy layout.
func saveTar(t testing.TB, layers ...[]*tar.Header) []byte {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	var names []string
	for i, l := range layers {
		var lb bytes.Buffer
		lw := tar.NewWriter(&lb)
		for _, h := range l {
			lw.WriteHeader(h)
		}
		lw.Close()
		name := string(rune('a'+i)) + "/layer.tar"
		names = append(names, name)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(lb.Len()), Typeflag: tar.TypeReg})
		tw.Write(lb.Bytes())
	}
	m := `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["` + names[0]
	for _, n := range names[1:] {
		m += `","` + n
	}
	m += `"]}]`
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(m)), Typeflag: tar.TypeReg})
	tw.Write([]byte(m))
	tw.Close()
	return out.Bytes()
}

func file(name string, mode int64, pax map[string]string) *tar.Header {
	return &tar.Header{Name: name, Mode: mode, Typeflag: tar.TypeReg, PAXRecords: pax, Format: tar.FormatPAX}
}

func dirHdr(name string) *tar.Header {
	return &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
}

// rawCap is vfs_cap_data revision 2 with the effective bit and
// cap_net_raw (13) permitted, as setcap cap_net_raw+ep writes it.
const rawCap = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

func TestScanLayers(t *testing.T) {
	caps := map[string]string{"SCHILY.xattr.security.capability": rawCap}
	base := []*tar.Header{dirHdr("bin/"), file("bin/ping", 0o755, caps), file("bin/su", 0o4755, nil), file("bin/keep", 0o2755, nil),
		dirHdr("tmp/"), file("tmp/a", 0o644, nil), dirHdr("run/"), file("run/b", 0o644, nil), file("etc/cap2", 0o755, caps)}
	im := &Image{}
	if err := im.scan(bytes.NewReader(saveTar(t, base))); err != nil {
		t.Fatal(err)
	}
	if len(im.Facts.FileCaps) != 2 || im.Facts.FileCaps[1].Path != "/etc/cap2" || !slices.Equal(im.Facts.FileCaps[1].Caps, []string{"NET_RAW"}) || !im.Facts.FileCaps[0].Effective {
		t.Errorf("file caps: %+v", im.Facts.FileCaps)
	}
	if !slices.Equal(im.Facts.Setuid, []string{"/bin/keep", "/bin/su"}) || !slices.Equal(im.Facts.Shipped, []string{"/run/b", "/tmp/a"}) {
		t.Errorf("setuid %v, shipped %v", im.Facts.Setuid, im.Facts.Shipped)
	}
	// A later layer deletes ping and su, hides /tmp's content, and
	// replaces /etc/cap2 without its capability.
	upper := []*tar.Header{file("bin/.wh.ping", 0o644, nil), file("bin/.wh.su", 0o644, nil), file("tmp/.wh..wh..opq", 0o644, nil), file("etc/cap2", 0o755, nil)}
	im = &Image{}
	if err := im.scan(bytes.NewReader(saveTar(t, base, upper))); err != nil {
		t.Fatal(err)
	}
	if len(im.Facts.FileCaps) != 0 || !slices.Equal(im.Facts.Setuid, []string{"/bin/keep"}) || !slices.Equal(im.Facts.Shipped, []string{"/run/b"}) {
		t.Errorf("after whiteouts: caps %+v setuid %v shipped %v", im.Facts.FileCaps, im.Facts.Setuid, im.Facts.Shipped)
	}
	if err := (&Image{}).scan(bytes.NewReader([]byte("not a tar"))); err == nil {
		t.Error("garbage accepted")
	}
}

// FuzzScan: a save stream from the engine never panics the scan, and
// every capability it reports is a name.
func FuzzScan(f *testing.F) {
	f.Add(saveTar(f, []*tar.Header{file("bin/x", 0o4755, map[string]string{"SCHILY.xattr.security.capability": rawCap})}))
	f.Add(saveTar(f, []*tar.Header{dirHdr("a/")}, []*tar.Header{file("a/.wh..wh..opq", 0, nil)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		im := &Image{}
		if im.scan(bytes.NewReader(b)) != nil {
			return
		}
		for _, fc := range im.Facts.FileCaps {
			if len(fc.Caps) == 0 || fc.Path == "" {
				t.Fatalf("file cap %+v", fc)
			}
		}
	})
}

func FuzzDecodeCaps(f *testing.F) {
	f.Add([]byte(rawCap))
	f.Add([]byte("\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fc := decodeCaps("/x", b); fc != nil && len(fc.Caps) == 0 {
			t.Fatal("empty caps reported")
		}
	})
}

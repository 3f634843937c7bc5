package auditlog

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	avc := []byte(`type=AVC msg=audit(1795500000.100:101): apparmor="ALLOWED" operation="open" profile="ctsec-web" name="/srv/x" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0` + "\n")
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.IntN(255) + 1) // no NUL: the share test must catch it
	}
	text := map[string][]byte{
		"plain":    avc,
		"empty":    nil,
		"gzip":     gz(avc),
		"enriched": append(bytes.TrimSuffix(avc, []byte("\n")), "\x1dFSUID=\"root\" OUID=\"root\"\n"...),
		"latin-1":  []byte("Nov 24 06:00:00 host app: caf\xe9 cr\xe8me br\xfbl\xe9e ready\n" + string(avc)),
		"utf-8":    []byte("Nov 24 06:00:00 host app: café ✓ 日本語\n"),
	}
	for name, in := range text {
		r, err := Decode(name, bytes.NewReader(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, _ := io.ReadAll(r)
		want := in
		if name == "gzip" {
			want = avc
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: read %q", name, got)
		}
	}
	binary := map[string][]byte{
		"journal":   append([]byte("LPKSHHRH"), make([]byte, 64)...),
		"xz":        {0xfd, '7', 'z', 'X', 'Z', 0, 0, 4},
		"zstd":      {0x28, 0xb5, 0x2f, 0xfd, 0x24},
		"bzip2":     []byte("BZh91AY&SY"),
		"nul":       append(bytes.Clone(avc), 0, 0, 0),
		"random":    random,
		"gzip junk": gz(random),
		"tar.gz":    gz(append([]byte("audit.log"), make([]byte, 503)...)),
	}
	for name, in := range binary {
		_, err := Decode("x.log", bytes.NewReader(in))
		if err == nil || !strings.HasPrefix(err.Error(), "log x.log: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line naming the file", name, err)
		}
	}
	if _, err := Decode("x.log.gz", bytes.NewReader([]byte{0x1f, 0x8b, 1})); err == nil || !strings.Contains(err.Error(), "x.log.gz") {
		t.Errorf("truncated gzip: %v", err)
	}
}

// FuzzDecode: any input either decodes to a stream the reader takes or is
// refused with one line naming the input; it never panics.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Add(gz([]byte("type=AVC msg=audit(1.1:1): apparmor=\"ALLOWED\"\n")))
	f.Add([]byte("LPKSHHRH"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode("in", bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), "in") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		rd := NewReader(io.LimitReader(r, 1<<20), Options{MaxLine: 512})
		for {
			if _, err := rd.Next(); err != nil {
				return
			}
		}
	})
}

// TestMalformedJournalEntry: a journal entry cut short in the middle of an
// AppArmor record is counted as malformed, not silently dropped.
func TestMalformedJournalEntry(t *testing.T) {
	in := `{"MESSAGE":"AVC apparmor=\"ALLOWED\" operation=\"open\"` + "\n" + `{"MESSAGE":"Started session"` + "\n"
	r := NewReader(strings.NewReader(in), Options{})
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	if st := r.Stats(); st.Malformed != 1 || st.Lines != 2 {
		t.Errorf("stats %+v, want 1 malformed of 2 lines", st)
	}
}

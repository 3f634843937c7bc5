package auditlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"unicode/utf8"
)

// sniffSize is how much of an input Decode looks at.
const sniffSize = 512

// binaryFormats are files an operator may pass by mistake for a log: reading
// them as text would find no events and report the profiles idle or ready.
var binaryFormats = []struct {
	magic []byte
	what  string
}{
	{[]byte("LPKSHHRH"), "a binary systemd journal file: read it with --journal --journal-dir DIR"},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "xz-compressed: decompress it first (xzcat FILE | ctsec apparmor review --log -)"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd-compressed: decompress it first (zstdcat FILE | ctsec apparmor review --log -)"},
	{[]byte("BZh"), "bzip2-compressed: decompress it first (bzcat FILE | ctsec apparmor review --log -)"},
}

// Decode prepares an input for a Reader: a gzip-compressed log (as logrotate
// leaves kern.log.2.gz) is decompressed as it is read; other compressed or
// binary files are refused with an error naming the file, because a file
// that is not a log would silently contribute no events.
func Decode(name string, r io.Reader) (io.Reader, error) {
	return decode(name, r, true)
}

func decode(name string, r io.Reader, gunzip bool) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("reading log %s: %w", name, err)
	}
	if gunzip && bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading log %s: %w", name, err)
		}
		return decode(name, zr, false)
	}
	for _, f := range binaryFormats {
		if bytes.HasPrefix(head, f.magic) {
			return nil, fmt.Errorf("log %s: %s", name, f.what)
		}
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return nil, fmt.Errorf("log %s: binary data (a NUL byte at offset %d), not a text log", name, i)
	}
	if binaryShare(head) > 0.3 {
		return nil, fmt.Errorf("log %s: binary data in its first %d bytes, not a text log", name, len(head))
	}
	return br, nil
}

// binaryShare is the share of bytes in b that no text log has: control
// characters other than tab, newline, carriage return, ESC and the 0x1D of
// auditd's ENRICHED format, and bytes that are not valid UTF-8. A log with a
// few Latin-1 words stays far below the threshold; random data is near half.
func binaryShare(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	total, bad := len(b), 0
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			// a cut multi-byte rune at the end of the sample is not binary
			if !utf8.FullRune(b) {
				n = len(b)
				break
			}
			bad++
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != 0x1b && r != 0x1d, r == 0x7f:
			bad++
		}
		b = b[max(n, 1):]
	}
	return float64(bad) / float64(total)
}

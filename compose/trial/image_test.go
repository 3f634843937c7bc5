package trial

import (
	"context"
	"slices"
	"testing"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// TestInspectImages: the facts each test image gives without running it,
// read from the real engine: the user, the file capability docker import
// kept, the file shipped under /tmp, the healthcheck.
func TestInspectImages(t *testing.T) {
	testenv.Docker(t)
	c, err := Connect(engine.Target{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	fc, err := Inspect(ctx, c, testenv.ServiceImage(t, testenv.FileCapImage))
	if err != nil {
		t.Fatal(err)
	}
	if fc.Facts.User != "1000" || len(fc.Facts.FileCaps) != 1 || fc.Facts.FileCaps[0].Path != "/bin/pinger" ||
		!slices.Equal(fc.Facts.FileCaps[0].Caps, []string{"NET_RAW"}) || !fc.Facts.FileCaps[0].Effective || !fc.Facts.Healthcheck {
		t.Errorf("filecap image facts: %+v", fc.Facts)
	}
	tmp, err := Inspect(ctx, c, testenv.ServiceImage(t, testenv.ShippedTmpImage))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tmp.Facts.Shipped, []string{"/tmp/seed.txt"}) || tmp.Facts.User != "" || len(tmp.Facts.FileCaps) != 0 {
		t.Errorf("shipped-tmp image facts: %+v", tmp.Facts)
	}
	if !tmp.IsDir("/etc") || len(tmp.FilesUnder("/etc")) < 2 {
		t.Errorf("image tree: /etc %v, %v", tmp.IsDir("/etc"), tmp.FilesUnder("/etc"))
	}
	if _, err := Inspect(ctx, c, "ctsec-test/no-such-image:0"); err == nil {
		t.Error("a missing image inspected")
	}
}

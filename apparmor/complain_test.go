package apparmor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestComplainSinceText(t *testing.T) {
	t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	hand := []byte("# my web profile\n#include <tunables/global>\nprofile web flags=(complain) {\n  /srv/** r,\n}\n")
	marked := WithComplainSince(hand, t1)
	if !bytes.HasSuffix(marked, hand) || !bytes.HasPrefix(marked, []byte("# ctsec: complain since 2026-11-01T00:00:00Z\n")) {
		t.Fatalf("marking a hand-written file changed more than one line:\n%s", marked)
	}
	// The review reads the marker the text functions write.
	pf := ProfileFile{Data: marked, ModTime: t2}
	pf.Profiles, _ = Parse("x", bytes.NewReader(marked))
	if infos := pf.Infos(); len(infos) != 1 || !infos[0].ComplainSince.Equal(t1) {
		t.Errorf("infos %+v, want complain since %s", infos, t1)
	}
	again := WithComplainSince(marked, t2)
	if got, ok := ComplainSince(again); !ok || !got.Equal(t2) || bytes.Count(again, []byte(complainMarker)) != 1 {
		t.Errorf("replacing the marker:\n%s", again)
	}
	if got := WithComplainSince(again, time.Time{}); !bytes.Equal(got, hand) {
		t.Errorf("removing the marker:\n%s", got)
	}
	// KeepComplainSince: both in complain → the old date; otherwise unchanged.
	if got, _ := ComplainSince(KeepComplainSince(WithComplainSince(hand, t2), marked)); !got.Equal(t1) {
		t.Errorf("kept %s, want %s", got, t1)
	}
	enforcing := bytes.Replace(hand, []byte(" flags=(complain)"), nil, 1)
	if got := KeepComplainSince(enforcing, marked); !bytes.Equal(got, enforcing) {
		t.Errorf("an enforcing profile got a marker:\n%s", got)
	}
	if got := KeepComplainSince(hand, []byte("not a profile {")); !bytes.Equal(got, hand) {
		t.Error("a broken old file changed the new one")
	}
}

// TestLoadComplainSince: gen dates the marker when it writes the file; load
// dates it when the profile enters complain mode on the host, keeps that
// date on reinstall (so a second load changes nothing), and drops it when
// the profile is installed enforcing.
func TestLoadComplainSince(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	ctx := context.Background()
	genDay := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	loadDay := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	p, err := Generate(&Spec{Name: "web", Created: genDay})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := p.Bytes()
	if got, ok := ComplainSince(text); !ok || !got.Equal(genDay) {
		t.Fatalf("gen wrote no complain-since date:\n%s", text)
	}
	src := filepath.Join(t.TempDir(), "web.apparmor")
	write(t, src, string(text))
	root := fakeAppArmorRoot(t, "")
	target := filepath.Join(root, ProfileDir, "ctsec-web")
	o := LoadOptions{Root: root, StateDir: t.TempDir(), Write: true, NoLoad: true, Clock: clock.Fixed(loadDay)}
	if _, err := Load(ctx, []string{src}, o); err != nil {
		t.Fatal(err)
	}
	installed, _ := os.ReadFile(target)
	if got, _ := ComplainSince(installed); !got.Equal(loadDay) {
		t.Errorf("installed complain since %s, want the load date %s", got, loadDay)
	}
	o.Clock = clock.Fixed(loadDay.Add(72 * time.Hour))
	res, err := Load(ctx, []string{src}, o)
	if err != nil || res.Actions[0].Changed {
		t.Errorf("second load: %v, changed %v\n%s", err, res.Actions[0].Changed, res.Actions[0].Diff)
	}
	o.Mode = "enforce"
	if _, err := Load(ctx, []string{src}, o); err != nil {
		t.Fatal(err)
	}
	installed, _ = os.ReadFile(target)
	if _, ok := ComplainSince(installed); ok || !strings.Contains(string(installed), `profile "ctsec-web" flags=(attach_disconnected,mediate_deleted) {`) {
		t.Errorf("enforcing profile:\n%s", installed)
	}
	// Back to complain: the clock starts again.
	o.Mode = "complain"
	if _, err := Load(ctx, []string{src}, o); err != nil {
		t.Fatal(err)
	}
	installed, _ = os.ReadFile(target)
	if got, want := ComplainSince(installed); !got.Equal(o.Clock.Now()) || !want {
		t.Errorf("re-entered complain since %s, want %s", got, o.Clock.Now())
	}
}

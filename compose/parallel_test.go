package compose

import (
	"reflect"
	"testing"
)

// TestParallelLoadEqualsWhole: the split load gives exactly the model of
// loading the whole file, before and after hardening.
func TestParallelLoadEqualsWhole(t *testing.T) {
	src := bigStack(300)
	d, err := Parse("big.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := serviceRanges(d.Src, d.lineStart, d.Docs)
	if p := r.cut(d.Src, 4); !ok || len(p) != 4 {
		t.Fatalf("big stack split into %d pieces", len(p))
	}
	res, err := Harden(d, Options{Policy: Strict})
	if err != nil {
		t.Fatal(err)
	}
	// The ranges mapped through the insertions cut the output at its services.
	want, _ := loadModel("big.yml", res.Output)
	got, err := loadPieces("big.yml", res.Output, r.shifted(res.p.ins).cut(res.Output, 3))
	if err != nil || !sameValue(want, got) {
		t.Fatalf("shifted split of the output differs: %v", err)
	}
	for _, b := range [][]byte{src, res.Output, append([]byte("x-a: &a {restart: always}\n"), src[len("# generated benchmark stack\n"):]...)} {
		whole, err := loadModel("big.yml", b)
		if err != nil {
			t.Fatal(err)
		}
		od := &Document{Name: "big.yml", Src: b}
		od.indexLines()
		if err := od.parseNodes(); err != nil {
			t.Fatal(err)
		}
		split, err := loadModelParallel("big.yml", b, od.lineStart, od.Docs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(whole), normalize(split)) {
			t.Errorf("split model differs at %s", firstDiff(normalize(whole), normalize(split), ""))
		}
	}
	// Anchors inside services: never split.
	withAnchor := []byte("services:\n  a: &a\n    image: x\n  b:\n    <<: *a\n")
	od := &Document{Src: withAnchor}
	od.indexLines()
	od.parseNodes()
	if _, ok := serviceRanges(withAnchor, od.lineStart, od.Docs); ok {
		t.Error("split a file with anchors inside services")
	}
}

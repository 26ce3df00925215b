package tz

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"America/Chicago", "America/Chicago", true},
		{"Europe/Amsterdam", "Europe/Amsterdam", true},
		{"", "UTC", true},
		{"UTC", "UTC", true},
		{"Mars/Olympus_Mons", "", false},
	} {
		for range 2 { // the second call comes from the cache
			l, err := Load(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("Load(%q): error %v, want ok=%v", tc.name, err, tc.ok)
			}
			if tc.ok && l.String() != tc.want {
				t.Errorf("Load(%q) = %s, want %s", tc.name, l, tc.want)
			}
		}
	}
	if _, ok := zones.Load("Mars/Olympus_Mons"); ok {
		t.Error("an unknown zone was cached")
	}
	if got := OrUTC("Mars/Olympus_Mons"); got != time.UTC {
		t.Errorf("OrUTC(unknown) = %s, want UTC", got)
	}
	// The cached zone converts as a freshly loaded one does.
	l, _ := Load("America/Chicago")
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	if d := at.In(l).Format(time.DateOnly); d != "2026-11-27" {
		t.Errorf("03:00 UTC in Chicago = %s, want 2026-11-27", d)
	}
}

// TestNoDirectLoadLocation keeps the convention: every zone goes through
// this package's cache.
func TestNoDirectLoadLocation(t *testing.T) {
	root, here := filepath.Join("..", ".."), filepath.Join("..", "..", "api", "tz")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		// Tests may load zones directly; only this package may in code.
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == here {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "time."+"LoadLocation(") {
			t.Errorf("%s calls time.LoadLocation; use tz.Load or tz.OrUTC", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

//go:build ignore

// gen builds demo.mrc, the demo catalogue, from every real MARC 21
// bibliographic record under testdata/marc. Run it from this directory:
//
//	go run gen.go
//
// Each file is read leniently, so records the conformance tests break on
// purpose still count when the reader can repair them, with two exceptions
// that would put garbage in front of a demo user: a record whose repair
// replaced undecodable bytes (the text would show U+FFFD), and the files
// that are not MARC 21 at all (UNIMARC). Records are then deduplicated by
// the import's own last-resort duplicate key (filing title, first author's
// surname, year: catalog.MatchKey), so the Library of Congress suite's many
// variants of one record become one record. Values an indented MARCXML file
// wrapped over lines are joined. Files are visited in path order
// and the first version of a record wins, which keeps the output stable.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/catalog/marc"
)

// notMARC21 lists the sample files whose records are UNIMARC.
var notMARC21 = map[string]bool{"testunimarc.dat": true, "cp866_unimarc.marc": true, "cp866_multirecord.marc": true}

// options gives the read options some files need (see testdata/README.md).
func options(name string) marc.ReadOptions {
	opt := marc.ReadOptions{Lenient: true}
	switch name {
	case "1251.dat":
		opt.Encoding = charmap.Windows1251
	case "marc8_accented_chars.marc":
		opt.IgnoreLeader09 = true
	}
	return opt
}

func main() {
	root := filepath.Join("..", "..", "..", "testdata", "marc")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".txt") && !notMARC21[d.Name()] {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer
	w := marc.NewWriter(&out)
	seen := map[string]bool{}
	kept := 0
	for _, p := range files { // WalkDir visits in lexical order
		n, err := add(p, w, seen)
		if err != nil {
			log.Fatalf("%s: %v", p, err)
		}
		kept += n
	}
	if err := os.WriteFile("demo.mrc", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("demo.mrc: %d records\n", kept)
}

// add writes the records of file p that are new to seen and returns how many.
func add(p string, w *marc.Writer, seen map[string]bool) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	format, err := marc.Detect(br)
	if err != nil {
		return 0, err
	}
	rd := marc.NewFormatReader(br, format, options(filepath.Base(p)))
	n := 0
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			if _, ok := err.(*marc.ParseError); ok {
				continue // beyond repair: the next record may still be good
			}
			return n, err
		}
		if !bibliographic(rec) || !titled(rec) || replaced(rec) {
			continue
		}
		unwrap(rec)
		fl := catalog.Extract(rec)
		if seen[fl.MatchKey] {
			continue
		}
		seen[fl.MatchKey] = true
		if err := w.Write(rec); err != nil {
			return n, err
		}
		n++
	}
}

// bibliographic reports whether leader/06 is a bibliographic type of record
// (not holdings, authority or classification).
func bibliographic(rec *marc.Record) bool {
	return len(rec.Leader) == 24 && strings.IndexByte("acdefgijkmoprt", rec.Leader[6]) >= 0
}

// titled reports whether rec has a title proper (245 $a): the conversion
// suite has fragments without one that test a single fixed field.
func titled(rec *marc.Record) bool {
	for _, f := range rec.Fields {
		if f.Tag == "245" && strings.TrimSpace(f.Sub('a')) != "" {
			return true
		}
	}
	return false
}

// unwrap joins the lines of values that an indented MARCXML file wrapped
// (ruby-marc's one.xml puts "Dylan,", "Bob," and "1941-" on lines of their
// own), which a catalogue would show as they are.
func unwrap(rec *marc.Record) {
	fix := func(v string) string {
		if !strings.ContainsAny(v, "\n\r\t") {
			return v
		}
		return strings.Join(strings.Fields(v), " ")
	}
	for i := range rec.Fields {
		f := &rec.Fields[i]
		f.Value = fix(f.Value)
		for j := range f.Subfields {
			f.Subfields[j].Value = fix(f.Subfields[j].Value)
		}
	}
}

// replaced reports whether the reader had to put U+FFFD for bytes it could
// not decode.
func replaced(rec *marc.Record) bool {
	for _, f := range rec.Fields {
		if strings.ContainsRune(f.Value, '\uFFFD') {
			return true
		}
		for _, s := range f.Subfields {
			if strings.ContainsRune(s.Value, '\uFFFD') {
				return true
			}
		}
	}
	return false
}

package marc

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// benchCorpus is every clean test record, repeated to about 4 MB, as ISO
// 2709 and as one MARCXML collection.
var (
	benchOnce          sync.Once
	benchISO, benchXML []byte
)

func benchCorpus(b *testing.B) (iso, xml []byte) {
	benchOnce.Do(func() {
		var recs []*Record
		for _, path := range recordFiles(b) {
			if !broken[path] {
				recs = append(recs, readFile(b, path, optionsFor(path)).recs...)
			}
		}
		var isoBuf, xmlBuf bytes.Buffer
		iw, xw := NewWriter(&isoBuf), NewXMLWriter(&xmlBuf)
		for isoBuf.Len() < 4<<20 {
			for _, r := range recs {
				if err := iw.Write(r); err != nil {
					b.Fatal(err)
				}
				if err := xw.Write(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := xw.Close(); err != nil {
			b.Fatal(err)
		}
		benchISO, benchXML = isoBuf.Bytes(), xmlBuf.Bytes()
	})
	return benchISO, benchXML
}

func benchRead(b *testing.B, data []byte, newReader func(io.Reader) RecordReader) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := newReader(bytes.NewReader(data))
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func benchRecords(b *testing.B) []*Record {
	iso, _ := benchCorpus(b)
	var recs []*Record
	r := NewReader(bytes.NewReader(iso), ReadOptions{})
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
	}
}

func BenchmarkISO2709Read(b *testing.B) {
	iso, _ := benchCorpus(b)
	benchRead(b, iso, func(r io.Reader) RecordReader { return NewReader(r, ReadOptions{}) })
}

func BenchmarkMARCXMLRead(b *testing.B) {
	_, xml := benchCorpus(b)
	benchRead(b, xml, func(r io.Reader) RecordReader { return NewXMLReader(r, ReadOptions{}) })
}

func benchWrite(b *testing.B, size int, write func(w io.Writer, recs []*Record) error) {
	recs := benchRecords(b)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := write(io.Discard, recs); err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkISO2709Write(b *testing.B) {
	iso, _ := benchCorpus(b)
	benchWrite(b, len(iso), func(w io.Writer, recs []*Record) error {
		iw := NewWriter(w)
		for _, r := range recs {
			if err := iw.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func BenchmarkMARCXMLWrite(b *testing.B) {
	_, xml := benchCorpus(b)
	benchWrite(b, len(xml), func(w io.Writer, recs []*Record) error {
		xw := NewXMLWriter(w)
		for _, r := range recs {
			if err := xw.Write(r); err != nil {
				return err
			}
		}
		return xw.Close()
	})
}

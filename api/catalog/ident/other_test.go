package ident

import (
	"errors"
	"strings"
	"testing"
)

func TestParseISSN(t *testing.T) {
	tests := []struct {
		in      string
		want    string // "" when an error is expected
		compact string
		wantErr error
		msg     string
	}{
		{in: "0317-8471", want: "0317-8471", compact: "03178471"},
		{in: "03178471", want: "0317-8471", compact: "03178471"},
		{in: " 0317 8471 ", want: "0317-8471", compact: "03178471"},
		{in: "ISSN 0317-8471", want: "0317-8471", compact: "03178471"},
		{in: "issn: 0317-8471", want: "0317-8471", compact: "03178471"},
		{in: "1050-124X", want: "1050-124X", compact: "1050124X"},
		{in: "1050-124x", want: "1050-124X", compact: "1050124X"},
		{in: "2049-3630", want: "2049-3630", compact: "20493630"},
		{in: "0028-0836", want: "0028-0836", compact: "00280836"}, // Nature
		{in: "0036-8075", want: "0036-8075", compact: "00368075"}, // Science

		{in: "0317-8472", wantErr: ErrCheckDigit, msg: "bad check digit: expected 1, got 2"},
		{in: "1050-1240", wantErr: ErrCheckDigit, msg: "expected X, got 0"},
		{in: "2049-363X", wantErr: ErrCheckDigit, msg: "expected 0, got X"},
		{in: "0317-847", wantErr: ErrLength, msg: "7 characters"},
		{in: "0317-84711", wantErr: ErrLength, msg: "9 characters"},
		{in: "", wantErr: ErrLength, msg: "0 characters"},
		{in: "031X-8471", wantErr: ErrChar, msg: "position 4"},
		{in: "0317-847Y", wantErr: ErrChar, msg: "position 8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseISSN(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("ParseISSN(%q) error = %v, want %v containing %q", tt.in, err, tt.wantErr, tt.msg)
				}
				if got != (ISSN{}) {
					t.Errorf("got non-zero ISSN with error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseISSN(%q): %v", tt.in, err)
			}
			if got.String() != tt.want || got.Compact() != tt.compact {
				t.Errorf("ParseISSN(%q) = %q / %q, want %q / %q", tt.in, got.String(), got.Compact(), tt.want, tt.compact)
			}
		})
	}
	var z ISSN
	if z.String() != "" || z.Compact() != "" {
		t.Errorf("zero ISSN prints %q / %q", z.String(), z.Compact())
	}
}

func TestNormalizeLCCN(t *testing.T) {
	tests := []struct{ in, want string }{
		// Examples from https://www.loc.gov/marc/lccn-namespace.html.
		{"n78-89035", "n78089035"},
		{"n 78890351 ", "n78890351"},
		{" 85000002 ", "85000002"},
		{"85-2 ", "85000002"},
		{" 85-2 ", "85000002"},
		{"2001-000002", "2001000002"},
		{"75-425165//r75", "75425165"},
		{" 79139101 /AC/r932", "79139101"},
		// MARC 010 $a fixed-width forms.
		{"   85000002 ", "85000002"},
		{"sh  85026371 ", "sh85026371"},
		{"  2001012345", "2001012345"},
		// Uppercase prefixes are keying variants.
		{"N78-89035", "n78089035"},
		{"SH 85-26371", "sh85026371"},
		// Already six or more digits after the hyphen: no padding.
		{"96-123456", "96123456"},
		{"", ""},
		{"/", ""},
	}
	for _, tt := range tests {
		if got := NormalizeLCCN(tt.in); got != tt.want {
			t.Errorf("NormalizeLCCN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeOCLC(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"(OCoLC)ocm12345678", "12345678", true},
		{"(OCoLC)ocn123456789", "123456789", true},
		{"(OCoLC)on1234567890", "1234567890", true},
		{"(OCoLC)00012345", "12345", true},
		{"(OCoLC)12345678", "12345678", true},
		{"(OCoLC)ocm00012345", "12345", true},
		{"(ocolc)OCM12345678", "12345678", true},
		{"  (OCoLC) ocm12345678  ", "12345678", true},
		{"(OCLC)12345678", "12345678", true},
		{"ocm12345678", "12345678", true}, // OCLC 001 style
		{"on1234567890", "1234567890", true},

		{"(DLC)   2001012345", "", false},
		{"(CaOONL)123456789", "", false},
		{"(Sirsi) a123456", "", false},
		{"12345678", "", false}, // no code: could be anyone's number
		{"(OCoLC)", "", false},
		{"(OCoLC)0000", "", false},
		{"(OCoLC)fst01234567", "", false}, // FAST heading, not a record
		{"(OCoLC)12345678x", "", false},
		{"(OCoLC12345678", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeOCLC(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("NormalizeOCLC(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

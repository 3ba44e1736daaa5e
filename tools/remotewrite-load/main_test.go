package main

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	"github.com/golang/snappy"
)

// field is one protobuf field as read back: its number, and its bytes (length-delimited) or its integer bits.
type field struct {
	num   int
	bytes []byte
	bits  uint64
}

func fields(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("bad key at %x", b)
		}
		b = b[n:]
		f := field{num: int(key >> 3)}
		switch key & 7 {
		case 0:
			v, m := binary.Uvarint(b)
			f.bits, b = v, b[m:]
		case 1:
			f.bits, b = binary.LittleEndian.Uint64(b), b[8:]
		case 2:
			l, m := binary.Uvarint(b)
			f.bytes, b = b[m:m+int(l)], b[m+int(l):]
		default:
			t.Fatalf("wire type %d", key&7)
		}
		out = append(out, f)
	}
	return out
}

func TestRequestIsASnappyWriteRequestOfSortedLabelsAndOneSampleEach(t *testing.T) {
	o := options{series: 120, metric: 50}
	body, err := snappy.Decode(nil, request(seriesLabels(o), 100, 103, 4, 1_700_000_000_123))
	if err != nil {
		t.Fatal(err)
	}
	series := fields(t, body)
	if len(series) != 3 {
		t.Fatalf("%d timeseries, want 3", len(series))
	}
	for i, ts := range series {
		if ts.num != 1 {
			t.Fatalf("WriteRequest field %d, want 1 (timeseries)", ts.num)
		}
		var names, values []string
		var samples []field
		for _, f := range fields(t, ts.bytes) {
			switch f.num {
			case 1:
				l := fields(t, f.bytes)
				names, values = append(names, string(l[0].bytes)), append(values, string(l[1].bytes))
			case 2:
				samples = append(samples, f)
			}
		}
		wantNames := []string{"__name__", "instance", "job"}
		wantValues := []string{"bench_load_metric_" + strconv.Itoa((100+i)%50), "pod-2", "remotewrite-load"}
		for j := range wantNames {
			if names[j] != wantNames[j] || values[j] != wantValues[j] {
				t.Fatalf("series %d labels %v=%v, want %v=%v", i, names, values, wantNames, wantValues)
			}
		}
		if len(samples) != 1 {
			t.Fatalf("series %d has %d samples, want 1", i, len(samples))
		}
		s := fields(t, samples[0].bytes)
		if v := math.Float64frombits(s[0].bits); v != float64(4*((100+i)%7+1)) || s[1].bits != 1_700_000_000_123 {
			t.Fatalf("series %d sample %v @ %d", i, v, s[1].bits)
		}
	}
}

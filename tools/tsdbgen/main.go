// Command tsdbgen writes synthetic Prometheus TSDB blocks, as a Prometheus replica scraping a set of pods would
// have written them: counters, gauges and a classic histogram with job, instance, pod and namespace labels.
// Values follow closed-form daily curves of time, so two replicas (two seeds) hold the same series with
// slightly shifted scrape timestamps, as a real HA pair does. Blocks are aligned to the block length, and each
// block's ULID carries its end time, as a block shipped by a sidecar shortly after it was cut does.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// SeriesPerPod is how many series one scraped pod has: 4 request counters, a CPU counter, 2 gauges and a
// histogram of 11 buckets plus _sum and _count.
const SeriesPerPod = 20

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

var apps = []string{"api", "checkout", "cart", "search", "auth", "payments", "catalog", "ingest"}
var namespaces = []string{"shop", "platform", "data", "edge"}

const day = float64(24 * time.Hour / time.Millisecond)

// kind says how a series' value is derived from time.
type kind int

const (
	counter kind = iota
	gauge
	histBucket
	histSum
	histCount
)

type series struct {
	lset labels.Labels
	kind kind
	// Per-series constants: a rate or level, the daily swing, a phase.
	base, swing, phase float64
	// For histogram series: the share of observations at or below the bucket's upper bound, and the mean.
	share, mean float64
}

func main() {
	out := flag.String("out", "", "directory to write blocks into (created)")
	count := flag.Int("series", 1000, "at least this many series (rounded up to whole pods)")
	start := flag.Int64("start", 0, "first sample time, Unix ms (aligned down to the block length)")
	end := flag.Int64("end", 0, "end of the data, Unix ms (exclusive)")
	blockLen := flag.Duration("block", 2*time.Hour, "block length")
	interval := flag.Duration("interval", 30*time.Second, "scrape interval")
	seed := flag.Int("seed", 0, "replica number: shifts the scrape timestamps as a second replica's are")
	flag.Parse()
	if *out == "" || *end <= *start || *blockLen <= 0 || *interval <= 0 {
		fmt.Fprintln(os.Stderr, "usage: tsdbgen --out DIR --start MS --end MS [--series N] [--block 2h] [--interval 30s] [--seed N]")
		os.Exit(2)
	}
	if err := run(*out, *count, *start, *end, blockLen.Milliseconds(), interval.Milliseconds(), *seed); err != nil {
		fmt.Fprintf(os.Stderr, "tsdbgen: %v\n", err)
		os.Exit(1)
	}
}

type summary struct {
	Series  int   `json:"series"`
	Blocks  int   `json:"blocks"`
	Samples int64 `json:"samples"`
	Bytes   int64 `json:"bytes"`
}

func run(out string, count int, start, end, blockLen, interval int64, seed int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	all := makeSeries(count)
	// A replica's scrapes are offset within the interval; the first replica's at a third of it.
	offset := (interval / 3 * int64(seed+1)) % interval
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum := summary{Series: len(all)}
	origin := start - start%blockLen
	for lo := origin; lo < end; lo += blockLen {
		hi := min(lo+blockLen, end)
		n, err := writeBlock(out, logger, all, lo, hi, interval, offset, origin)
		if err != nil {
			return fmt.Errorf("block %s–%s: %w", time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC(), err)
		}
		sum.Samples += n
		sum.Blocks++
	}
	size, err := dirSize(out)
	if err != nil {
		return err
	}
	sum.Bytes = size
	return json.NewEncoder(os.Stdout).Encode(sum)
}

// makeSeries lays out pods over namespaces and apps: instance and pod names are stable across runs.
func makeSeries(count int) []series {
	pods := (count + SeriesPerPod - 1) / SeriesPerPod
	var all []series
	for p := 0; p < pods; p++ {
		app := apps[p%len(apps)]
		ns := namespaces[(p/len(apps))%len(namespaces)]
		pod := fmt.Sprintf("%s-%08x-%d", app, hash(ns, app)&0xffffffff, p)
		target := []string{
			"job", app,
			"namespace", ns,
			"pod", pod,
			"instance", fmt.Sprintf("10.%d.%d.%d:8080", 64+p/65536, (p/256)%256, p%256),
		}
		h := float64(hash(pod)%1000) / 1000 // 0..1, this pod's own
		withLabels := func(name string, extra ...string) labels.Labels {
			return labels.FromStrings(append(append([]string{"__name__", name}, target...), extra...)...)
		}
		for _, method := range []string{"GET", "POST"} {
			for _, code := range []string{"200", "500"} {
				rate := 5 + 45*h
				if code == "500" {
					rate *= 0.01
				}
				if method == "POST" {
					rate *= 0.3
				}
				all = append(all, series{lset: withLabels("http_requests_total", "code", code, "method", method),
					kind: counter, base: rate, swing: 0.6, phase: h})
			}
		}
		all = append(all,
			series{lset: withLabels("process_cpu_seconds_total"), kind: counter, base: 0.05 + 0.5*h, swing: 0.5, phase: h},
			series{lset: withLabels("container_memory_working_set_bytes"), kind: gauge, base: (200 + 800*h) * (1 << 20), swing: 0.15, phase: h},
			series{lset: withLabels("go_goroutines"), kind: gauge, base: 50 + 400*h, swing: 0.3, phase: h},
		)
		// Latency: a log-normal distribution with a median between 20 and 300 ms.
		median := 0.02 + 0.28*h
		rate := 5 + 45*h
		for _, le := range buckets {
			all = append(all, series{lset: withLabels("http_request_duration_seconds_bucket", "le", fmt.Sprint(le)),
				kind: histBucket, base: rate, swing: 0.6, phase: h, share: logNormalCDF(le, median, 0.8)})
		}
		all = append(all,
			series{lset: withLabels("http_request_duration_seconds_bucket", "le", "+Inf"), kind: histBucket, base: rate, swing: 0.6, phase: h, share: 1},
			series{lset: withLabels("http_request_duration_seconds_sum"), kind: histSum, base: rate, swing: 0.6, phase: h, mean: median * math.Exp(0.32)},
			series{lset: withLabels("http_request_duration_seconds_count"), kind: histCount, base: rate, swing: 0.6, phase: h},
		)
	}
	return all
}

// value is the series at time t (ms): counters count from `origin` (when the pod started, the same for every
// replica) at a rate that swings over the day; gauges swing over the day.
func (s *series) value(t, origin int64) float64 {
	angle := func(x int64) float64 { return 2 * math.Pi * (float64(x)/day + s.phase) }
	// ∫ base·(1 + swing·cos(angle)) dt from origin to t, in seconds.
	total := s.base * (float64(t-origin)/1000 + s.swing*day/1000/(2*math.Pi)*(math.Sin(angle(t))-math.Sin(angle(origin))))
	switch s.kind {
	case counter, histCount:
		return math.Floor(total)
	case histBucket:
		return math.Floor(total * s.share)
	case histSum:
		return math.Floor(total) * s.mean
	default:
		return s.base * (1 + s.swing*math.Sin(angle(t)))
	}
}

func writeBlock(out string, logger *slog.Logger, all []series, lo, hi, interval, offset, origin int64) (int64, error) {
	chunkDir, err := os.MkdirTemp("", "tsdbgen-head-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(chunkDir)
	opts := tsdb.DefaultHeadOptions()
	opts.ChunkRange = hi - lo
	opts.ChunkDirRoot = chunkDir
	head, err := tsdb.NewHead(nil, logger, nil, nil, opts, tsdb.NewHeadStats())
	if err != nil {
		return 0, err
	}
	defer head.Close()
	if err := head.Init(math.MinInt64); err != nil {
		return 0, err
	}
	ctx := context.Background()
	// The head takes samples in time order across series (older than half a block behind its newest is out of
	// bounds), so time is the outer loop; one commit per scrape keeps the pending samples small.
	var samples int64
	refs := make([]storage.SeriesRef, len(all))
	for t := lo + offset; t < hi; t += interval {
		app := head.Appender(ctx)
		for i := range all {
			if refs[i], err = app.Append(refs[i], all[i].lset, t, all[i].value(t, origin)); err != nil {
				return 0, err
			}
		}
		if err := app.Commit(); err != nil {
			return 0, err
		}
		samples += int64(len(all))
	}
	compactor, err := tsdb.NewLeveledCompactor(ctx, nil, logger, []int64{hi - lo}, chunkenc.NewPool(), nil)
	if err != nil {
		return 0, err
	}
	ids, err := compactor.Write(out, tsdb.NewRangeHead(head, lo, hi-1), lo, hi, nil)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("wrote %d blocks, want 1", len(ids))
	}
	return samples, stampULID(out, ids[0], hi)
}

// stampULID renames a block to a ULID made at its end time: the time a sidecar would have shipped it.
func stampULID(out string, id ulid.ULID, at int64) error {
	stamped := ulid.MustNew(uint64(at), rand.Reader)
	metaPath := filepath.Join(out, id.String(), "meta.json")
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		return err
	}
	var meta tsdb.BlockMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return err
	}
	meta.ULID = stamped
	meta.Compaction.Sources = []ulid.ULID{stamped}
	raw, err = json.MarshalIndent(meta, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(metaPath, raw, 0o644); err != nil {
		return err
	}
	return os.Rename(filepath.Join(out, id.String()), filepath.Join(out, stamped.String()))
}

func logNormalCDF(x, median, sigma float64) float64 {
	return 0.5 * math.Erfc(-(math.Log(x)-math.Log(median))/(sigma*math.Sqrt2))
}

func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			size += info.Size()
		}
		return nil
	})
	return size, err
}

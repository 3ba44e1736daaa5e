// Command remotewrite-load sends a steady Prometheus remote-write 1.0 stream, as scraping Prometheus replicas would:
// a fixed set of active series, each given one sample per interval at the current time, in requests of up to a
// batch of samples sent by a few concurrent senders. It presents a client certificate and a tenant header when
// given them, and prints what it sent, what was accepted and the write latencies as one JSON object.
//
// The WriteRequest is encoded by hand (prompb's four messages: WriteRequest, TimeSeries, Label, Sample) so that the
// module needs nothing but snappy.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
)

type options struct {
	url, tenant, tenantHeader          string
	ca, cert, key, serverName          string
	series, batch, concurrency, metric int
	interval, duration, timeout        time.Duration
}

func parse() options {
	var o options
	flag.StringVar(&o.url, "url", "", "remote-write URL (https://host:port/api/v1/receive or /api/v1/write)")
	flag.StringVar(&o.tenant, "tenant", "", "tenant sent in the tenant header (none when empty)")
	flag.StringVar(&o.tenantHeader, "tenant-header", "THANOS-TENANT", "the tenant header's name")
	flag.StringVar(&o.ca, "ca", "", "PEM file of the CA that signed the server's certificate")
	flag.StringVar(&o.cert, "cert", "", "PEM file of the client certificate")
	flag.StringVar(&o.key, "key", "", "PEM file of the client certificate's key")
	flag.StringVar(&o.serverName, "server-name", "", "name the server's certificate is verified against")
	flag.IntVar(&o.series, "series", 10000, "active series")
	flag.IntVar(&o.metric, "metrics", 50, "metric names the series are spread over")
	flag.IntVar(&o.batch, "batch", 2000, "samples per request (Prometheus's max_samples_per_send)")
	flag.IntVar(&o.concurrency, "concurrency", 8, "requests in flight at most")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "how often each series gets a sample")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long to send")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "per request")
	flag.Parse()
	if o.url == "" || o.series < 1 || o.batch < 1 || o.concurrency < 1 || o.interval <= 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "remotewrite-load: -url is required; -series, -batch, -concurrency, -interval and -duration must be positive")
		os.Exit(2)
	}
	return o
}

func client(o options) (*http.Client, error) {
	cfg := &tls.Config{ServerName: o.serverName, MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("reading -ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s holds no PEM certificate", o.ca)
		}
		cfg.RootCAs = pool
	}
	if o.cert != "" {
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("reading -cert and -key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	transport := &http.Transport{
		TLSClientConfig:     cfg,
		MaxIdleConnsPerHost: o.concurrency,
		MaxConnsPerHost:     o.concurrency,
		IdleConnTimeout:     time.Minute,
	}
	return &http.Client{Transport: transport, Timeout: o.timeout}, nil
}

// Protobuf wire format: a field key is (number << 3 | wire type).
func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = appendKey(b, field, 2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// label encodes prompb.Label{Name: 1, Value: 2}.
func label(name, value string) []byte {
	return appendBytes(appendBytes(nil, 1, []byte(name)), 2, []byte(value))
}

// seriesLabels is the encoded label part of each series' TimeSeries, labels sorted by name as remote write requires.
func seriesLabels(o options) [][]byte {
	out := make([][]byte, o.series)
	for i := range out {
		var b []byte
		b = appendBytes(b, 1, label("__name__", "bench_load_metric_"+strconv.Itoa(i%o.metric)))
		b = appendBytes(b, 1, label("instance", "pod-"+strconv.Itoa(i/o.metric)))
		b = appendBytes(b, 1, label("job", "remotewrite-load"))
		out[i] = b
	}
	return out
}

// request encodes a WriteRequest{Timeseries: 1} of series [from, to), each with one Sample{Value: 1 (double),
// Timestamp: 2 (int64)}, and compresses it with snappy's block format.
func request(labels [][]byte, from, to int, round int, ts int64) []byte {
	var body []byte
	for i := from; i < to; i++ {
		sample := appendKey(nil, 1, 1)
		sample = binary.LittleEndian.AppendUint64(sample, math.Float64bits(float64(round*(i%7+1))))
		sample = appendKey(sample, 2, 0)
		sample = binary.AppendUvarint(sample, uint64(ts))
		series := append(append([]byte(nil), labels[i]...), appendBytes(nil, 2, sample)...)
		body = appendBytes(body, 1, series)
	}
	return snappy.Encode(nil, body)
}

type result struct {
	status  int
	samples int
	ms      float64
	err     string
}

type summary struct {
	OfferedPerSecond float64            `json:"offeredSamplesPerSecond"`
	Seconds          float64            `json:"seconds"`
	SentSamples      int                `json:"sentSamples"`
	AcceptedSamples  int                `json:"acceptedSamples"`
	Requests         int                `json:"requests"`
	Statuses         map[string]int     `json:"statuses"`
	FirstError       string             `json:"firstError,omitempty"`
	LatencyMs        map[string]float64 `json:"latencyMs"`
	// Rounds that began late because the senders were still busy with the previous one: the stream fell behind.
	LateRounds int `json:"lateRounds"`
	Rounds     int `json:"rounds"`
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func main() {
	o := parse()
	c, err := client(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "remotewrite-load:", err)
		os.Exit(2)
	}
	labels := seriesLabels(o)
	type job struct {
		body    []byte
		samples int
	}
	jobs := make(chan job, o.concurrency)
	results := make(chan result, 1024)
	var senders sync.WaitGroup
	for range o.concurrency {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := range jobs {
				results <- send(c, o, j.body, j.samples)
			}
		}()
	}
	var collected []result
	done := make(chan struct{})
	go func() {
		for r := range results {
			collected = append(collected, r)
		}
		close(done)
	}()

	start := time.Now()
	s := summary{Statuses: map[string]int{}, LatencyMs: map[string]float64{}}
	for round := 0; ; round++ {
		due := start.Add(time.Duration(round) * o.interval)
		if !due.Before(start.Add(o.duration)) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		} else if round > 0 && -wait > o.interval/10 {
			s.LateRounds++
		}
		s.Rounds++
		ts := time.Now().UnixMilli()
		for from := 0; from < o.series; from += o.batch {
			to := min(from+o.batch, o.series)
			jobs <- job{body: request(labels, from, to, round, ts), samples: to - from}
		}
	}
	close(jobs)
	senders.Wait()
	close(results)
	<-done

	s.Seconds = time.Since(start).Seconds()
	s.OfferedPerSecond = float64(o.series) / o.interval.Seconds()
	var ms []float64
	for _, r := range collected {
		s.Requests++
		s.SentSamples += r.samples
		key := strconv.Itoa(r.status)
		if r.status == 0 {
			key = "no answer"
		}
		s.Statuses[key]++
		if r.status >= 200 && r.status < 300 {
			s.AcceptedSamples += r.samples
		} else if s.FirstError == "" {
			s.FirstError = r.err
		}
		ms = append(ms, r.ms)
	}
	sort.Float64s(ms)
	for _, p := range []float64{50, 90, 99} {
		s.LatencyMs["p"+strconv.Itoa(int(p))] = percentile(ms, p)
	}
	if len(ms) > 0 {
		s.LatencyMs["max"] = ms[len(ms)-1]
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}

func send(c *http.Client, o options, body []byte, samples int) result {
	req, err := http.NewRequest(http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return result{samples: samples, err: err.Error()}
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "thanos-fleet-remotewrite-load")
	if o.tenant != "" {
		req.Header.Set(o.tenantHeader, o.tenant)
	}
	t0 := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return result{samples: samples, ms: msSince(t0), err: err.Error()}
	}
	text, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	res.Body.Close()
	return result{status: res.StatusCode, samples: samples, ms: msSince(t0), err: fmt.Sprintf("HTTP %d: %s", res.StatusCode, bytes.TrimSpace(text))}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// Command fleet-minio prepares the fleet's bucket on MinIO: the bucket, a canned policy allowing
// s3:* on that bucket only, and Thanos's own user with that policy. MinIO's admin API encrypts
// request bodies (madmin), hence a Go helper rather than plain HTTP. Every step is idempotent.
// Credentials come from the environment, never from arguments (which any local user can read).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const version = "0.1.0"

type config struct {
	endpoint, bucket, user             string
	rootUser, rootPassword, userSecret string
	timeout                            time.Duration
}

func main() {
	var cfg config
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.StringVar(&cfg.endpoint, "endpoint", "", "MinIO S3 endpoint, host:port (plain HTTP)")
	flag.StringVar(&cfg.bucket, "bucket", "", "the fleet's bucket")
	flag.StringVar(&cfg.user, "user", "", "access key of the bucket-scoped user to create")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "deadline for the whole setup")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: fleet-minio --endpoint HOST:PORT --bucket NAME --user ACCESS_KEY\n"+
			"environment: MINIO_ROOT_USER, MINIO_ROOT_PASSWORD (admin), FLEET_USER_SECRET_KEY (the user's secret)\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("fleet-minio version %s\n", version)
		return
	}
	cfg.rootUser = os.Getenv("MINIO_ROOT_USER")
	cfg.rootPassword = os.Getenv("MINIO_ROOT_PASSWORD")
	cfg.userSecret = os.Getenv("FLEET_USER_SECRET_KEY")
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "fleet-minio: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	if err := setup(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "fleet-minio: %v\n", err)
		os.Exit(1)
	}
}

func (c config) validate() error {
	var missing []string
	for name, v := range map[string]string{
		"--endpoint": c.endpoint, "--bucket": c.bucket, "--user": c.user,
		"MINIO_ROOT_USER": c.rootUser, "MINIO_ROOT_PASSWORD": c.rootPassword, "FLEET_USER_SECRET_KEY": c.userSecret,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func policyName(bucket string) string { return "fleet-" + bucket + "-rw" }

// bucketPolicy allows everything on the bucket and its objects, and nothing else.
func bucketPolicy(bucket string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":   "Allow",
			"Action":   []string{"s3:*"},
			"Resource": []string{"arn:aws:s3:::" + bucket, "arn:aws:s3:::" + bucket + "/*"},
		}},
	})
}

func s3Client(endpoint, key, secret string) (*minio.Client, error) {
	return minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(key, secret, ""), Secure: false})
}

func setup(ctx context.Context, cfg config) error {
	root, err := s3Client(cfg.endpoint, cfg.rootUser, cfg.rootPassword)
	if err != nil {
		return fmt.Errorf("s3 client for %s: %w", cfg.endpoint, err)
	}
	exists, err := root.BucketExists(ctx, cfg.bucket)
	if err != nil {
		return fmt.Errorf("checking bucket %q on %s (are the root credentials right?): %w", cfg.bucket, cfg.endpoint, err)
	}
	if !exists {
		if err := root.MakeBucket(ctx, cfg.bucket, minio.MakeBucketOptions{}); err != nil {
			return fmt.Errorf("creating bucket %q: %w", cfg.bucket, err)
		}
		fmt.Printf("bucket %s created\n", cfg.bucket)
	} else {
		fmt.Printf("bucket %s exists\n", cfg.bucket)
	}

	adm, err := madmin.New(cfg.endpoint, cfg.rootUser, cfg.rootPassword, false)
	if err != nil {
		return fmt.Errorf("admin client for %s: %w", cfg.endpoint, err)
	}
	policy, err := bucketPolicy(cfg.bucket)
	if err != nil {
		return err
	}
	name := policyName(cfg.bucket)
	if err := adm.AddCannedPolicy(ctx, name, policy); err != nil {
		return fmt.Errorf("adding policy %s: %w", name, err)
	}
	if err := adm.AddUser(ctx, cfg.user, cfg.userSecret); err != nil {
		return fmt.Errorf("adding user %s: %w", cfg.user, err)
	}
	info, err := adm.GetUserInfo(ctx, cfg.user)
	if err != nil {
		return fmt.Errorf("reading user %s: %w", cfg.user, err)
	}
	if !slices.Contains(strings.Split(info.PolicyName, ","), name) {
		if _, err := adm.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{name}, User: cfg.user}); err != nil {
			return fmt.Errorf("attaching policy %s to user %s: %w", name, cfg.user, err)
		}
	}
	fmt.Printf("user %s has policy %s (s3:* on bucket %s only)\n", cfg.user, name, cfg.bucket)
	return verify(ctx, cfg)
}

// verify proves the user's scope: it can write and delete in the bucket, and cannot touch another bucket.
func verify(ctx context.Context, cfg config) error {
	user, err := s3Client(cfg.endpoint, cfg.user, cfg.userSecret)
	if err != nil {
		return err
	}
	probe := ".fleet-minio-probe"
	// A freshly added user can take a moment to be visible to the S3 layer.
	var putErr error
	for attempt := 0; attempt < 20; attempt++ {
		_, putErr = user.PutObject(ctx, cfg.bucket, probe, bytes.NewReader([]byte("ok")), 2, minio.PutObjectOptions{})
		if putErr == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if putErr != nil {
		return fmt.Errorf("user %s cannot write to bucket %s: %w", cfg.user, cfg.bucket, putErr)
	}
	if err := user.RemoveObject(ctx, cfg.bucket, probe, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("user %s cannot delete in bucket %s: %w", cfg.user, cfg.bucket, err)
	}
	other := cfg.bucket + "-scope-probe"
	err = user.MakeBucket(ctx, other, minio.MakeBucketOptions{})
	if err == nil {
		_ = user.RemoveBucket(ctx, other)
		return fmt.Errorf("user %s could create bucket %s: its key is not scoped to bucket %s", cfg.user, other, cfg.bucket)
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) || resp.Code != "AccessDenied" {
		return fmt.Errorf("probing that user %s is denied outside bucket %s: %w", cfg.user, cfg.bucket, err)
	}
	fmt.Printf("user %s can write to bucket %s and is denied on other buckets\n", cfg.user, cfg.bucket)
	return nil
}

// Package pgtest owns the PostgreSQL that tests and benchmarks use: where
// it is ($STRONGROOM_TEST_POSTGRES, or the local server of the CI
// machines) and throwaway databases on it.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server the CI machines run, with trust auth.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL returns $STRONGROOM_TEST_POSTGRES, or DefaultURL.
func URL() string {
	if u := os.Getenv("STRONGROOM_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// Available reports whether the server at URL answers.
func Available() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

var seq atomic.Int64

// Database creates an empty database on the server at URL and returns its
// URL; it is dropped when the test ends. Without PostgreSQL the test fails:
// it never skips.
func Database(t testing.TB) string {
	t.Helper()
	base := URL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("this test needs PostgreSQL (set STRONGROOM_TEST_POSTGRES): %v", err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("strongroom_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000_000, seq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("STRONGROOM_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Command ferretdb runs FerretDB 1.x with its SQLite backend as a MongoDB
// wire-protocol server for the local stack. It embeds the library package
// because the released CLI expects a build-time version file that a plain
// `go install` does not produce.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data", "./data", "directory for the SQLite database files")
	// SQLite's own default, FULL, syncs the write-ahead log to disk at every commit: one fsync
	// per document written. NORMAL syncs it only when the log is checkpointed into the database;
	// a commit then survives the server being killed (the log is in the OS's cache), and only a
	// crash of the machine itself can take back the last commits before a checkpoint.
	synchronous := flag.String("synchronous", "normal", "SQLite synchronous mode: full or normal")
	flag.Parse()

	if *synchronous != "full" && *synchronous != "normal" {
		log.Fatalf("-synchronous must be full or normal, not %q", *synchronous)
	}

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("cannot create data directory: %v", err)
	}

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    slog.New(lazyAttrs{inner: slog.Default().Handler()}),
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/?_pragma=synchronous(" + *synchronous + ")",
	})
	if err != nil {
		log.Fatalf("cannot configure FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("FerretDB listening on %s, data in %s", *listen, *dataDir)
	if err := server.Run(ctx); err != nil {
		log.Fatalf("FerretDB stopped: %v", err)
	}
}

// lazyAttrs keeps the attributes a logger is given with With until a record is actually
// written. FerretDB builds a logger with the SQL arguments (whole documents) around every
// statement for its debug lines, and slog's own handlers format those attributes at once,
// whether or not debug lines are written: that took 8% of the server's CPU under load.
type lazyAttrs struct {
	inner slog.Handler
	attrs []slog.Attr
}

func (h lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h lazyAttrs) Handle(ctx context.Context, record slog.Record) error {
	return h.inner.WithAttrs(h.attrs).Handle(ctx, record)
}

func (h lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lazyAttrs{inner: h.inner, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h lazyAttrs) WithGroup(name string) slog.Handler {
	// A group applies to the attributes added after it, so those held so far go in first.
	return lazyAttrs{inner: h.inner.WithAttrs(h.attrs).WithGroup(name)}
}

// Command ferretdb runs FerretDB 1.x with its SQLite backend as a MongoDB
// wire-protocol server for the local stack. It embeds the library package
// because the released CLI expects a build-time version file that a plain
// `go install` does not produce.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// passwordVariable names the environment variable holding the first user's password.
const passwordVariable = "FERRETDB_SETUP_PASSWORD"

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data", "./data", "directory for the SQLite database files")
	auth := flag.Bool("auth", false, "require a SCRAM-SHA-256 login for every command but the handshake")
	setupUser := flag.String("setup-username", "", "with -auth: user created in the admin database on the first start; "+
		"its password is read from $"+passwordVariable+" (never a flag: ps shows flags to everyone)")
	flag.Parse()

	password := os.Getenv(passwordVariable)
	if *auth && (*setupUser == "") != (password == "") {
		log.Fatalf("-setup-username and $%s go together", passwordVariable)
	}
	setupDatabase := ""
	if *auth && *setupUser != "" {
		setupDatabase = "admin"
	}

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("cannot create data directory: %v", err)
	}

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",

		// These four are not in the upstream package; deploy/local/stack.py patches them in.
		EnableNewAuth: *auth,
		SetupDatabase: setupDatabase,
		SetupUsername: *setupUser,
		SetupPassword: password,
	})
	if err != nil {
		log.Fatalf("cannot configure FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("FerretDB listening on %s, data in %s, authentication required: %t", *listen, *dataDir, *auth)
	if err := server.Run(ctx); err != nil {
		log.Fatalf("FerretDB stopped: %v", err)
	}
}

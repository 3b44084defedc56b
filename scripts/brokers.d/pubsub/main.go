// Command pubsub-emulator serves Google's in-memory fake Pub/Sub server (pstest) over gRPC
// for scripts/brokers. It keeps no data across restarts.
//
//	pubsub-emulator -addr 127.0.0.1:8085          serve until SIGTERM/SIGINT
//	pubsub-emulator -probe -addr 127.0.0.1:8085   one ListTopics gRPC call; exit 0 if it answers
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "host:port to listen on (or to probe)")
	probe := flag.Bool("probe", false, "check that a server answers on -addr, then exit")
	flag.Parse()

	if *probe {
		if err := probeServer(*addr); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
		return
	}

	srv := pstest.NewServerWithAddress(*addr)
	log.Printf("pstest Pub/Sub emulator listening on %s", srv.Addr)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	s := <-sigs
	log.Printf("received %v, shutting down", s)
	_ = srv.Close()
}

func probeServer(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewPublisherClient(conn).ListTopics(ctx, &pb.ListTopicsRequest{Project: "projects/probe"})
	return err
}

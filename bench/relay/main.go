// Command relay is the floor of any PostgreSQL proxy: it accepts TCP
// connections and copies bytes to and from the upstream, one goroutine per
// direction, with no parsing, pooling or buffering of its own (io.Copy
// between TCP connections splices on Linux). The bench harness builds and
// runs it next to gatehouse and pgbouncer.
//
//	relay -listen 127.0.0.1:7000 -upstream 127.0.0.1:5432
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept connections on")
	upstream := flag.String("upstream", "", "address to forward to")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("relay: -upstream is required")
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go relay(c.(*net.TCPConn), *upstream)
	}
}

// relay copies both ways until either side closes, then closes both.
func relay(client *net.TCPConn, upstream string) {
	defer client.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Print(err)
		return
	}
	server := u.(*net.TCPConn)
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, client); done <- struct{}{} }()
	go func() { io.Copy(client, server); done <- struct{}{} }()
	<-done
}

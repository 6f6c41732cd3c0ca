// Command portinspect answers "what is on port N on this machine, and
// should it be?": sockets, the processes that hold them, and what the port
// is known for.
package main

import "os"

func main() {
	deferCollection()
	os.Exit(Main(os.Args[1:], SystemFactory()))
}

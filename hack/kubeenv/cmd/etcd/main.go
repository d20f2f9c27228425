// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3
// because etcd's own main module carries replace directives that
// `go install` refuses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

package loopback

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestFreeAddrAcrossProcesses: processes that take addresses at the same
// time (make test's passes and packages side by side) never get the same
// one while both live. Before, each took the port the kernel picked for a
// ":0" listener and closed it, so another process could be handed it
// before the first one's server bound it (in 4 processes of 300 ports,
// dozens were handed out twice).
func TestFreeAddrAcrossProcesses(t *testing.T) {
	if n := os.Getenv("LOOPBACK_HELPER"); n != "" {
		count, _ := strconv.Atoi(n)
		for range count {
			a, err := FreeAddr()
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println(a)
		}
		fmt.Println("done")
		io.Copy(io.Discard, os.Stdin) // hold them until told
		return
	}
	const procs, each = 4, 300
	owner := map[string]int{}
	var stdins []io.Closer
	var cmds []*exec.Cmd
	defer func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, c := range cmds {
			c.Wait()
		}
	}()
	outs := make([]io.Reader, procs)
	for i := range procs {
		c := exec.Command(os.Args[0], "-test.run=^TestFreeAddrAcrossProcesses$")
		c.Env = append(os.Environ(), "LOOPBACK_HELPER="+strconv.Itoa(each))
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		stdins, cmds, outs[i] = append(stdins, in), append(cmds, c), out
	}
	low, _ := ephemeralLow()
	twice := 0
	for i, out := range outs {
		lines := bufio.NewScanner(out)
		got := 0
		for lines.Scan() && lines.Text() != "done" {
			a := lines.Text()
			if strings.HasPrefix(a, "error") {
				t.Fatalf("process %d: %s", i, a)
			}
			if j, ok := owner[a]; ok && j != i {
				twice++
				t.Errorf("%s was handed to processes %d and %d at once", a, j, i)
			}
			owner[a] = i
			if port, _ := strconv.Atoi(a[strings.LastIndexByte(a, ':')+1:]); low >= rangeHigh && port >= low {
				t.Errorf("%s is in the kernel's ephemeral range (from %d), where an outgoing connection may hold it", a, low)
			}
			got++
		}
		if got != each {
			t.Fatalf("process %d handed out %d addresses, want %d", i, got, each)
		}
	}
	if twice > 0 {
		t.Errorf("%d addresses were handed to two processes at once", twice)
	}
}

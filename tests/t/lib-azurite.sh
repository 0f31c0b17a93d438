# lib-azurite.sh - an Azurite blob service for one test script
#
#   azurite_start          start Azurite's blob service on a free 127.0.0.1
#                          port with a private data folder (./azurite/),
#                          wait until it listens (60 s at most: node starts
#                          slowly on a busy machine), register
#                          its stop with test_atexit; exports AZURITE_PORT,
#                          AZURITE_URL (http://127.0.0.1:PORT/devstoreaccount1)
#                          and AZURE_STORAGE_CONNECTION_STRING
#   azurite_stop           stop it (SIGTERM, then SIGKILL after 5 s)
#   azurite_kill           stop it at once (SIGKILL), keeping its data
#
# AZURITE_DEBUG=1 before azurite_start: Azurite logs every request it
# serves to ./azurite/debug.log (for scripts that count requests; it costs
# node about a fifth more CPU, so the others go without).
# Azurite is the one pinned by `make deps` in tools/azurite/ (AZURITE_BIN
# overrides it).  A script without it skips loudly: source this file, then
# `test_have_prereq AZURITE || { skip_all=...; test_done; }`.
# Telemetry is off and it listens on loopback only: no test talks to
# anything but 127.0.0.1.

AZURITE_BIN=${AZURITE_BIN:-$TEST_DIRECTORY/../../tools/azurite/node_modules/.bin/azurite-blob}
[ -x "$AZURITE_BIN" ] && command -v node >/dev/null && test_set_prereq AZURITE
command -v az >/dev/null && test_set_prereq AZCLI

# The emulator's well-known development account (public, documented by
# Microsoft; not a secret).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZURITE_PID=

# azurite_need_tools: AZB_TOOL (build/azb-tool, the REST client's test
# driver) and BT (build/backing-tool) beside $SSEFS_BIN, or the whole
# script is skipped, loudly
azurite_need_tools () {
	AZB_TOOL=${AZB_TOOL:-$(dirname "$SSEFS_BIN")/build/azb-tool}
	[ -x "$AZB_TOOL" ] || AZB_TOOL=$(dirname "$SSEFS_BIN")/azb-tool	# SANITIZE=1
	[ -x "$AZB_TOOL" ] || { skip_all="no azb-tool beside $SSEFS_BIN (make)"; test_done; }
	BT=$(dirname "$AZB_TOOL")/backing-tool
}

azurite_free_port () {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# azurite_start [PORT]: PORT reuses a port (a restart after azurite_kill)
azurite_start () {
	local i
	AZURITE_PORT=${1:-$(azurite_free_port)} || return 1
	mkdir -p "$TRASH_DIRECTORY/azurite" || return 1
	: >"$TRASH_DIRECTORY/azurite.out"
	# alone after the '&': $! must be node itself, not a subshell
	"$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
		--location "$TRASH_DIRECTORY/azurite" \
		${AZURITE_DEBUG:+--debug "$TRASH_DIRECTORY/azurite/debug.log"} \
		--skipApiVersionCheck --disableTelemetry \
		--disableProductStyleUrl \
		>>"$TRASH_DIRECTORY/azurite.out" 2>&1 &
	AZURITE_PID=$!
	test_atexit "azurite_stop"
	for i in $(test_seq 600); do
		grep -q 'successfully listens' "$TRASH_DIRECTORY/azurite.out" &&
			break
		kill -0 "$AZURITE_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'successfully listens' "$TRASH_DIRECTORY/azurite.out" || {
		cat "$TRASH_DIRECTORY/azurite.out" >&2
		return 1
	}
	AZURITE_URL="http://127.0.0.1:$AZURITE_PORT/$AZURITE_ACCOUNT"
	AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$AZURITE_URL;"
	export AZURITE_PORT AZURITE_URL AZURE_STORAGE_CONNECTION_STRING
}

azurite_kill () {
	[ -n "$AZURITE_PID" ] || return 0
	kill -KILL "$AZURITE_PID" 2>/dev/null
	wait "$AZURITE_PID" 2>/dev/null
	AZURITE_PID=
	return 0
}

azurite_stop () {
	local i
	[ -n "$AZURITE_PID" ] || return 0
	kill -TERM "$AZURITE_PID" 2>/dev/null
	for i in $(test_seq 50); do
		kill -0 "$AZURITE_PID" 2>/dev/null || break
		sleep 0.1
	done
	azurite_kill
}

# fault_server MODE: a stand-in on a free 127.0.0.1 port (FAULT_PORT) that
# fails every request one way: "reset" closes each connection with a TCP
# RST, "busy" answers 503 ServerBusy, "silent" accepts and never answers.
# It lives 60 s at most and is stopped at exit.
fault_server () {
	local i
	FAULT_PORT=$(azurite_free_port) || return 1
	rm -f "$TRASH_DIRECTORY/fault.ready"
	timeout 60 python3 -c '
import socket, struct, sys, threading, time
mode, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
open(ready, "w").close()
held = []
def serve(c):
    if mode == "silent":
        held.append(c)
        return
    if mode == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()
        return
    f = c.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            break
        if line in (b"\r\n", b"\n"):
            c.sendall(b"HTTP/1.1 503 Server Busy\r\n"
                      b"x-ms-error-code: ServerBusy\r\n"
                      b"Content-Length: 0\r\n\r\n")
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$1" "$FAULT_PORT" "$TRASH_DIRECTORY/fault.ready" &
	FAULT_PID=$!
	test_atexit "kill $FAULT_PID 2>/dev/null; wait $FAULT_PID 2>/dev/null"
	for i in $(test_seq 100); do
		test -f "$TRASH_DIRECTORY/fault.ready" && return 0
		sleep 0.1
	done
	return 1
}

fault_stop () {
	kill "$FAULT_PID" 2>/dev/null
	wait "$FAULT_PID" 2>/dev/null
	return 0
}

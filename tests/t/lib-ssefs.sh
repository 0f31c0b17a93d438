# lib-ssefs.sh - fixtures for ssefs's integration tests: the binary, a
# vault, mounts that are always cleaned up, prerequisites.

SSEFS_BIN=${SSEFS_BIN:-$TEST_DIRECTORY/../../ssefs}
[ -x "$SSEFS_BIN" ] || { echo "Bail out! no ssefs binary at $SSEFS_BIN"; exit 1; }

ssefs () { "$SSEFS_BIN" "$@"; }

# Every test script gets its own vault, beside the trash directory's files.
SSEFS_VAULT="$TRASH_DIRECTORY/vault"
export SSEFS_VAULT
unset SSEFS_PASSPHRASE_FILE SSEFS_CONFIG

[ "$(id -u)" = 0 ] && test_set_prereq ROOT
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null && test_set_prereq FUSE
command -v jq >/dev/null && test_set_prereq JQ
command -v qemu-img >/dev/null && test_set_prereq QEMU
command -v vhdiinfo >/dev/null && test_set_prereq VHDI
command -v fio >/dev/null && test_set_prereq FIO
test_have_prereq ROOT && losetup -f >/dev/null 2>&1 && test_set_prereq LOOP
# OTHERS: an unprivileged user (nobody) can run the binary and reach this
# test's directory; not so when the checkout sits in a directory only root
# can enter (a clone in a mktemp -d directory is 0700)
test_have_prereq ROOT && command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "test -x '$SSEFS_BIN' && cd '$TRASH_DIRECTORY'" 2>/dev/null &&
	test_set_prereq OTHERS

# ssefs_setup_vault [VAULT INIT OPTIONS]: the vault "test" at $SSEFS_VAULT
ssefs_setup_vault () {
	ssefs vault init --name test "$@" >/dev/null
}

# bg_mount MNT LOG CMD...: run CMD, a daemon that mounts MNT and stays in
# the foreground, in the background with its output in LOG, and wait up
# to 10 s for MNT to be a mount point (the log goes to stderr if not).
# BG_PID is its pid; the test's end unmounts MNT and kills it.
bg_mount () {
	local m=$1 log=$2 i
	shift 2
	mkdir -p "$m"
	"$@" >"$log" 2>&1 &
	BG_PID=$!
	test_atexit "ssefs_umount_lazy '$m' $BG_PID"
	for i in $(test_seq 100); do
		mountpoint -q "$m" && return 0
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	return 1
}

# ssefs_mount STORE MNT [OPTS]: ssefs mount -f in the background, its log
# in MNT.log; its pid in SSEFS_PID and SSEFS_PID_<MNT> (ssefs_umount).
ssefs_mount () {
	local r=0
	bg_mount "$2" "$2.log" ssefs mount -f "$1" "$2" ${3:+-o "$3"} || r=1
	SSEFS_PID=$BG_PID
	eval "SSEFS_PID_$(echo "$2" | tr -c 'A-Za-z0-9\n' _)=$SSEFS_PID"
	return $r
}

# ssefs_umount MNT: clean unmount; the daemon must exit 0.
ssefs_umount () {
	local pid
	pid=$(eval echo "\$SSEFS_PID_$(echo "$1" | tr -c 'A-Za-z0-9\n' _)")
	fusermount3 -u "$1" || return 1
	if [ -n "$pid" ]; then
		wait "$pid"
	fi
}

ssefs_umount_lazy () {
	fusermount3 -uz "$1" 2>/dev/null
	if [ -n "$2" ]; then
		kill "$2" 2>/dev/null
		sleep 0.2
		kill -9 "$2" 2>/dev/null
	fi
	return 0
}

# wait_gone PID: the process ends within 10 s
wait_gone () {
	local i
	for i in $(test_seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# wait_daemon_gone STORE: the daemon holding STORE's lock has exited
wait_daemon_gone () {
	local pid
	pid=$(cat "$1/.ssefs.lock" 2>/dev/null)
	[ -n "$pid" ] || return 0
	wait_gone "$pid"
}

# detach_loops_under DIR: losetup -d every loop device whose backing file
# is under DIR (a mount's disks: file systems on them unmounted first)
detach_loops_under () {
	local d
	for d in $(losetup --json -l | jq -r --arg p "$1/" \
		'.loopdevices[] | select(.["back-file"] | startswith($p)) | .name')
	do
		losetup -d "$d" 2>/dev/null
	done
	return 0
}

# A file of N MiB of random bytes.
random_file () {	# PATH MIB
	head -c "$(( $2 * 1048576 ))" /dev/urandom >"$1"
}

# --- mount fixtures (mount engineer) ---

# make_vhd PATH SIZE: a fixed VHD made by qemu-img, SIZE of data + footer
# (force_size: exactly SIZE, no CHS rounding).
make_vhd () {
	qemu-img create -q -f vpc -o subformat=fixed,force_size=on "$1" "$2"
}

# ssefs_daemon_pid MNT: the pid ssefs_mount recorded for MNT.
ssefs_daemon_pid () {
	eval echo "\$SSEFS_PID_$(echo "$1" | tr -c 'A-Za-z0-9\n' _)"
}

# count_string STRING PATH...: how many times STRING is in the files (a
# folder: every regular file under it; a path not there: none), as grep -a
# -o counts a string that cannot overlap itself.  It reads only the data
# of a sparse file (a string without NUL is not in a hole), in blocks:
# grep -a holds a whole "line" in memory, and a 1 GiB host cache of zeros
# is one line (tens of seconds).
count_string () {
	python3 - "$@" <<-\EOF
	import os, stat, sys
	s = os.fsencode(sys.argv[1])
	def count(fd):
	    end, n, pos = os.fstat(fd).st_size, 0, 0
	    while pos < end:
	        stop = end
	        if b"\0" not in s:
	            try:
	                pos = os.lseek(fd, pos, os.SEEK_DATA)
	            except OSError:
	                break
	            stop = os.lseek(fd, pos, os.SEEK_HOLE)
	        keep = b""
	        while pos < stop:
	            got = os.pread(fd, min(1 << 23, stop - pos), pos)
	            if not got:
	                return n
	            pos += len(got)
	            buf = keep + got
	            n += buf.count(s)
	            i = buf.rfind(s)
	            keep = buf[max(len(buf) - len(s) + 1, i + len(s) if i >= 0 else 0, 0):]
	    return n
	def files(path):
	    try:
	        st = os.lstat(path)
	    except FileNotFoundError:
	        return
	    if not stat.S_ISDIR(st.st_mode):
	        yield path
	        return
	    for top, dirs, names in os.walk(path):
	        for name in names:
	            p = os.path.join(top, name)
	            if stat.S_ISREG(os.lstat(p).st_mode):
	                yield p
	n = 0
	for path in sys.argv[2:]:
	    for f in files(path):
	        fd = os.open(f, os.O_RDONLY)
	        n += count(fd)
	        os.close(fd)
	print(n)
	EOF
}

# cmp_sparse A B: A and B hold the same bytes, as cmp says, reading only
# where either has data (SEEK_DATA): a hole in both is zeros in both.  cmp
# reads the holes of a thin 10 GiB disk too (tens of CPU seconds).
cmp_sparse () {
	python3 - "$1" "$2" <<-\EOF
	import os, sys
	def extents(fd, end):
	    pos = 0
	    while pos < end:
	        try:
	            pos = os.lseek(fd, pos, os.SEEK_DATA)
	        except OSError:
	            return
	        stop = os.lseek(fd, pos, os.SEEK_HOLE)
	        yield pos, stop
	        pos = stop
	a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
	end = os.fstat(a).st_size
	if os.fstat(b).st_size != end:
	    sys.exit("cmp_sparse: %s and %s differ in size" % tuple(sys.argv[1:3]))
	for start, stop in sorted([*extents(a, end), *extents(b, end)]):
	    for pos in range(start, stop, 1 << 23):
	        n = min(1 << 23, stop - pos)
	        if os.pread(a, n, pos) != os.pread(b, n, pos):
	            sys.exit("cmp_sparse: %s and %s differ in bytes %d-%d" %
	                     (sys.argv[1], sys.argv[2], pos, pos + n - 1))
	EOF
}

# no_canary PATH CANARY: the file PATH (a folder: no file under it) does not
# contain the string CANARY.
no_canary () {
	test "$(count_string "$2" "$1")" = 0
}

# --- revocation fixtures: one disk d.vhd in store/, mounted on mnt/, whose
# first MiB is in the file want ---

# read_first_mib: the first MiB of the disk through the mount, caches
# dropped first, into FILE; fails as dd does.
read_first_mib () {
	sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	dd if=mnt/d.vhd of="$1" bs=1M count=1 2>"$1.err"
}

# wait_for CMD...: retry for up to 15 s (grace 2 s + check interval 1 s,
# with room for a loaded machine)
wait_for () {
	for i in $(test_seq 75); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

disk_state () {
	ssefs --json status mnt | jq -r '.disks[] | select(.path == "d.vhd") | .state'
}

kid_is () {
	test "$(ssefs --json disk show store/d.vhd | jq -r ".layers[0].kid")" = "$1"
}

revoked () {
	! read_first_mib got 2>/dev/null &&
	grep -q "Key has been revoked" got.err &&
	test "$(disk_state)" = revoked
}

resumed () {
	read_first_mib got && cmp got want && test "$(disk_state)" = ok
}

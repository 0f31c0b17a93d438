#!/bin/sh
# Includes point one way: a file may include its own folder and lower ranks
# only.  util(1) < crypto(2) < disk(3) < keyvault, cache, store(4; not
# sideways) < svc(5) < fuse(6) < cli(7).  Usage: check-layers.sh [TREE];
# prints each offending "file -> include" and exits 1 if there is one.
set -u
cd "${1:-.}" || exit 2

rank() {
	case $1 in
	util) echo 1 ;; crypto) echo 2 ;; disk) echo 3 ;;
	keyvault|cache|store) echo 4 ;; svc) echo 5 ;; fuse) echo 6 ;;
	cli) echo 7 ;; *) echo 0 ;;
	esac
}

bad=0
for d in util crypto disk keyvault cache store svc fuse cli; do
	[ -d "$d" ] || continue
	r=$(rank "$d")
	for f in "$d"/*.c "$d"/*.h; do
		[ -f "$f" ] || continue
		for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\/[^"]*\)".*/\1/p' "$f"); do
			t=${inc%%/*}
			[ "$t" = "$d" ] && continue
			tr=$(rank "$t")
			[ "$tr" = 0 ] && continue
			if [ "$tr" -ge "$r" ]; then
				echo "ssefs: layers: $f -> $inc: rank $r ($d) may not include rank $tr ($t)"
				bad=1
			fi
		done
	done
done
exit $bad

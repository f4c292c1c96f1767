# The program git runs as pre-receive inside every mlgit bare repo (the per-repo hook sources it
# with the hook's name; post-receive's work the server does itself once git has answered). It
# only forwards the push to the server's internal hook API and prints the answer: git shows our
# stderr to the pusher as "remote: " lines, and a non-zero exit rejects the push.
#
# bash, not node: git starts it for every push, and bash with its built-in /dev/tcp starts in
# ~2 ms where node took 40 ms on an idle machine and over 100 ms on a busy one (npm run bench:push).
# The wire format is lines of text (server/http/internal/hook-request.ts) so that no JSON is needed.

# Byte semantics: ${#body} must count bytes, and no locale may change how lines are read.
LC_ALL=C
hook=$1

fail() {
  printf 'mlgit: %s\n' "$1" >&2
  # Fail closed: a push that did not pass the server's checks must not land.
  exit 1
}

case $hook in
  pre-receive) ;;
  # Installed by older versions; the server does this work itself now (`mlgit doctor` removes it).
  post-receive) exit 0 ;;
  *) fail "unknown hook \"$hook\"" ;;
esac
if [ -z "$MLGIT_HOOK_URL" ] || [ -z "$MLGIT_HOOK_SECRET" ]; then
  fail 'this repository only accepts pushes through the mlgit server'
fi

# MLGIT_HOOK_URL is the server's loopback address, http://127.0.0.1:PORT or http://[::1]:PORT.
address=${MLGIT_HOOK_URL#http://}
port=${address##*:}
host=${address%:*}
host=${host#[}
host=${host%]}

# EPOCHREALTIME (bash 5) lets the server's push timeline show how long this hook took to start.
body="secret $MLGIT_HOOK_SECRET
${EPOCHREALTIME:+started_at $EPOCHREALTIME
}"
for name in GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_QUARANTINE_PATH; do
  if [ -n "${!name}" ]; then body+="quarantine $name ${!name}"$'\n'; fi
done
for ((i = 0; i < ${GIT_PUSH_OPTION_COUNT:-0}; i++)); do
  option=GIT_PUSH_OPTION_$i
  body+="option ${!option}"$'\n'
done
# git's "<old> <new> <ref>" lines, as they are.
body+="$(</dev/stdin)"$'\n'

{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || fail "could not reach the mlgit hook API at $MLGIT_HOOK_URL"
# TRACEPARENT (set by the server when it traces) makes this hook call a child of the push's span.
printf 'POST /internal/hooks/%s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "$hook" "$address" "${TRACEPARENT:+traceparent: $TRACEPARENT$'\r\n'}" "${#body}" "$body" >&3 || fail 'could not send the push to the mlgit hook API'

# The answer: a status line, headers, then "ok" or "reject" and the lines to show the pusher.
IFS=' ' read -r -t 300 _ status _ <&3 || fail 'the mlgit hook API did not answer'
while IFS= read -r -t 30 line <&3 && [ -n "${line%$'\r'}" ]; do :; done
verdict=
while IFS= read -r -t 30 line <&3 || [ -n "$line" ]; do
  if [ -z "$verdict" ]; then verdict=${line:-none}; else printf '%s\n' "$line" >&2; fi
done
[ "$status" = 200 ] || fail "the mlgit hook API answered $status"
[ "$verdict" = ok ] || exit 1

#!/usr/bin/env bash
# Start the real app under Xvfb, train briefly, draw a digit with xdotool and write a
# screenshot of each place to docs/screenshots/.  Needs (Debian): xvfb openbox xdotool
# imagemagick libxcb-cursor0 libxkbcommon-x11-0.  The clicks assume the 1600×1000 screen
# set up here, with the window maximised by openbox.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/screenshots
mkdir -p "$out"
export DISPLAY=:95
export EXPLAINABLE_CNN_DATA="$(mktemp -d)"
export XDG_CONFIG_HOME="$(mktemp -d)"        # fresh settings: the first-run tour shows
Xvfb "$DISPLAY" -screen 0 1600x1000x24 >/dev/null 2>&1 & xvfb=$!
trap 'kill $app $wm $xvfb 2>/dev/null || true' EXIT
sleep 1
openbox >/dev/null 2>&1 & wm=$!
sleep 1
python main.py >/dev/null 2>&1 & app=$!
for _ in $(seq 50); do xdotool search --name "Explainable CNN" >/dev/null 2>&1 && break; sleep 0.2; done
sleep 2
xdotool key super+Up 2>/dev/null || true

tab() { xdotool mousemove "$1" 89 click 1; sleep "${2:-1}"; }
shot() { import -window root "$out/$1.png"; echo "wrote $out/$1.png"; }

# Dismiss the first-run tour ("Got it", right of the banner above the tabs).
xdotool mousemove 1470 94 click 1; sleep 1

# Train: fresh weights (Reset), then two epochs (Step epoch twice).
tab 106
xdotool mousemove 372 553 click 1; sleep 1                      # Reset
xdotool mousemove 143 553 click 1; sleep 15                     # Step epoch (slow when busy)
xdotool mousemove 143 553 click 1; sleep 15                     # Step epoch (slow when busy)
shot train

# Draw & Explain: a "3" drawn in one stroke.
tab 191 2
first=1
for p in 220,230 260,205 320,200 370,220 385,260 360,300 315,320 360,340 390,380 \
         380,430 340,465 280,475 225,455; do
  x=${p%,*}; y=${p#*,}
  if [ $first = 1 ]; then xdotool mousemove "$x" "$y" mousedown 1; first=0
  else for i in 1 2 3 4 5 6; do
         xdotool mousemove $((px + (x - px) * i / 6)) $((py + (y - py) * i / 6)); sleep 0.01
       done
  fi
  px=$x; py=$y
done
xdotool mouseup 1; sleep 3
shot draw

# Evaluate: computed off the GUI thread, so give it a moment.
tab 288 6
shot evaluate

# Draw & Explain again, switched to the dark theme while the app runs (View → Theme → Dark).
tab 191 2
xdotool key alt+v t Down Down Return; sleep 2
shot draw-dark
xdotool key alt+F4; sleep 1

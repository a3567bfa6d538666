#!/usr/bin/env python3
"""Where a CPU goes idle during a load: reads `perf script` output of sched:sched_switch events
recorded on all CPUs with user stacks (idle_where.sh records it) and, for each stretch a CPU spent
idle, charges its length to the thread that switched out into the idle task and to that thread's
stack (its first FRAMES frames of our code, lock and futex internals left out). The top lines
say what the load was waiting for while a core had nothing to run.
    perf script -F comm,tid,cpu,time,trace,ip,sym -i DATA | idle_where.py [FRAMES]"""
import collections
import re
import sys

SKIP = ('futex_wait', '__GI___lll', '__futex', 'pthread_cond', '___pthread', '__pthread', 'lll_')
frames = int(sys.argv[1]) if len(sys.argv) > 1 else 5
events, cur = [], None
for line in sys.stdin:
    if 'prev_comm=' in line:
        m = re.search(r'\[(\d+)\]\s+([\d.]+):.*prev_comm=(.*?) prev_pid=(\d+).*prev_state=(\S+)'
                      r' ==> next_comm=(.*?) next_pid=(\d+)', line)
        cur = None
        if m:
            cur = {'cpu': int(m.group(1)), 't': float(m.group(2)), 'prev': m.group(3),
                   'next_pid': m.group(7), 'stack': []}
            events.append(cur)
    elif cur is not None and line.strip():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith('ffffffff'):  # user frames only
            cur['stack'].append(parts[1])
idle, count, went_idle = collections.Counter(), collections.Counter(), {}
for e in events:
    if e['next_pid'] == '0':
        went_idle[e['cpu']] = e
    elif e['cpu'] in went_idle:
        e0 = went_idle.pop(e['cpu'])
        stack = [f for f in e0['stack'] if not any(s in f for s in SKIP)][:frames]
        key = e0['prev'] + ' | ' + ' < '.join(stack)
        idle[key] += e['t'] - e0['t']
        count[key] += 1
if not events:
    sys.exit('no sched_switch events read')
span = events[-1]['t'] - events[0]['t']
ncpu = 1 + max(e['cpu'] for e in events)
total = sum(idle.values())
print(f'{span:.2f} s recorded on {ncpu} CPUs: {total:.2f} CPU-s idle '
      f'({100 * total / (ncpu * span):.0f}%)')
print('idle s   times  thread | what it waited in')
try:
    for k, v in idle.most_common(25):
        print(f'{v:6.3f} {count[k]:7d}  {k[:240]}')
except BrokenPipeError:  # | head
    pass

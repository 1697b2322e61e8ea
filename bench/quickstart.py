"""Wall time, bbox mAP and peak memory of `detnb quickstart`, against the goal of issue 6: at most 5 minutes
end to end on 2 CPU cores, and COCO bbox mAP@[.5:.95] of at least 0.7 on the validation split.

The command runs in a child process, a fresh interpreter as a user would start it, with the data set generated
into a temporary folder (a first run: nothing cached), unless `--cached` lets it use detnb's cache. The figures:
wall time and its ratio to the 300 s goal (<= 1 meets it), mAP and its ratio to 0.7 (>= 1 meets it), the CPU
time of the child, its peak resident memory, and the load average before and after: on a shared machine the
other processes' load stretches the wall time, so read the CPU time and the load with it.

    python bench/quickstart.py                 # torch's default threads (the number of cores)
    python bench/quickstart.py --threads 1     # detnb quickstart --threads 1
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

GOAL_SECONDS, GOAL_MAP = 300, 0.7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, help="torch's CPU threads in the child (default: torch decides)")
    parser.add_argument('--cached', action='store_true', help="use detnb's data cache instead of generating afresh")
    parser.add_argument('--work-dir', help='keep the outputs here (default: a temporary folder, removed)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='detnb-bench-quickstart-') as tmp:
        work = Path(args.work_dir or Path(tmp) / 'work')
        cmd = [sys.executable, '-m', 'detnb.cli', 'quickstart', '--work-dir', str(work)]
        if not args.cached: cmd += ['--data-root', str(Path(tmp) / 'data')]
        if args.threads: cmd += ['--threads', str(args.threads)]
        load_before = os.getloadavg()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        load_after = os.getloadavg()
        if proc.returncode != 0: sys.exit(f'detnb quickstart failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
        summary = json.loads((work / 'metrics.json').read_text())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # Linux: ru_maxrss in KiB
    m = summary['metrics']
    print(f"detnb quickstart (torch threads: {summary['num_threads']}, CPUs: {os.cpu_count()}, device {summary['device']}, "
          f"{summary['num_train']} train / {summary['num_val']} val images{', cached data' if args.cached else ''})")
    print(f"  wall time     {wall:6.1f} s   / goal {GOAL_SECONDS} s = {wall / GOAL_SECONDS:.2f}  (<= 1 meets it); "
          f"data {summary['data_time_s']:.1f} s, training + validation {summary['train_time_s']:.1f} s")
    print(f"  bbox mAP      {m['coco/bbox_mAP']:6.3f}     / goal {GOAL_MAP} = {m['coco/bbox_mAP'] / GOAL_MAP:.2f}  (>= 1 meets it); "
          f"mAP50 {m['coco/bbox_mAP_50']:.3f}, mAP75 {m['coco/bbox_mAP_75']:.3f}")
    print(f"  CPU time      {usage.ru_utime + usage.ru_stime:6.1f} s   (user + system of the child)")
    print(f"  peak RSS      {usage.ru_maxrss / 1024:6.0f} MiB")
    print(f"  load average  {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute)")


if __name__ == '__main__':
    main()

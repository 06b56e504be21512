// `user`/`group` → who the workers run as, checked once at start (unknown names, not root) and turned into the
// arguments of util-linux's setpriv, which changes the identity in the one exec that starts node. The account
// lookups (getent, NSS-aware) are passed in by spawn-worker.ts, the one caller of child_process. Not the spawning.

import { ConfigError } from '../errors.js';

export interface WorkerIdentity {
  /** null: keep the master's uid (only a group was given). */
  uid: number | null;
  gid: number;
  /** 'init': the user's supplementary groups (initgroups); 'clear': none (no user, or a uid without a passwd entry). */
  groups: 'init' | 'clear';
  /** HOME, USER, LOGNAME of the user, as login(1) and systemd's User= set them; empty when there is no user entry. */
  env: Record<string, string>;
}

/** `getent passwd|group KEY` split on ":", or null when there is no such entry. */
export type AccountLookup = (database: 'passwd' | 'group', key: string) => string[] | null;

export interface Self {
  uid: number;
  gid: number;
}

const NUMERIC = /^\d+$/;

/**
 * The workers' identity, or null when there is nothing to change (no user/group, or exactly the master's own).
 * Throws ConfigError (key `user` or `group`): unknown names, a uid with no entry and no group, or a change of
 * identity asked of a master that is not root (ERR_CONFIG_PRIVILEGE).
 */
export function resolveWorkerIdentity(
  options: { user: string | null; group: string | null },
  lookup: AccountLookup,
  self: Self,
  hasSetpriv: () => boolean,
): WorkerIdentity | null {
  const { user, group } = options;
  if (user === null && group === null) return null;

  let uid: number | null = null;
  let primaryGid: number | null = null;
  let env: Record<string, string> = {};
  if (user !== null) {
    const entry = lookup('passwd', user);
    if (entry !== null) {
      uid = Number(entry[2]);
      primaryGid = Number(entry[3]);
      env = { HOME: entry[5] ?? '/', USER: entry[0]!, LOGNAME: entry[0]! };
    } else if (NUMERIC.test(user) && group !== null) {
      uid = Number(user); // a uid with no passwd entry (containers): no supplementary groups to take
    } else {
      throw new ConfigError('user', `user ${JSON.stringify(user)} does not exist`, {
        hint: NUMERIC.test(user)
          ? 'uid ' + user + ' has no passwd entry: give --group too (the workers then get no supplementary groups)'
          : 'create it (useradd --system --no-create-home NAME) or name an existing user; getent passwd NAME shows it',
      });
    }
  }

  let gid: number;
  if (group !== null) {
    const entry = lookup('group', group);
    if (entry !== null) gid = Number(entry[2]);
    else if (NUMERIC.test(group)) gid = Number(group);
    else {
      throw new ConfigError('group', `group ${JSON.stringify(group)} does not exist`, {
        hint: 'name an existing group (getent group NAME shows it) or a numeric gid',
      });
    }
  } else {
    gid = primaryGid!;
  }

  const groups = uid !== null && Object.keys(env).length > 0 ? 'init' : 'clear';
  if (self.uid !== 0) {
    if ((uid === null || uid === self.uid) && gid === self.gid) return null; // already who they should be
    const key = uid !== null && uid !== self.uid ? 'user' : 'group';
    throw new ConfigError(key, `--${key} needs a master started as root (running as uid ${self.uid})`, {
      code: 'ERR_CONFIG_PRIVILEGE',
      hint: 'start scgi-supervise as root (it keeps root for the socket and drops it in the workers), or drop --user/--group and let systemd\'s User= set the identity of the whole service',
    });
  }
  if (!hasSetpriv()) {
    throw new ConfigError(user !== null ? 'user' : 'group', 'setpriv (util-linux) is not installed', {
      hint: 'install it (apt-get install util-linux): workers change identity through it',
    });
  }
  return { uid, gid, groups, env };
}

/** setpriv's arguments before `--`: the whole change in one exec. */
export function setprivArgs(identity: WorkerIdentity): string[] {
  const args: string[] = [];
  if (identity.uid !== null) args.push(`--reuid=${identity.uid}`);
  args.push(`--regid=${identity.gid}`, identity.groups === 'init' ? '--init-groups' : '--clear-groups');
  // No --pdeathsig here: a worker with requests in flight must finish them after the master dies (issue 13
  // item 2); orphans are handled in the worker. Had one been set, it would have to be in this same exec: the
  // kernel clears the parent-death signal on a change of uid or gid.
  return args;
}

/** Runs `test ARGS` as the identity; true when it exits 0 (spawn-worker.ts's testAs). */
export type TestAs = (identity: WorkerIdentity, args: string[]) => boolean;

/**
 * The workers must read the app and enter chdir as their user: checked at start, since a worker that cannot would
 * only say that the app failed to load (or, from load-app's stat, that it does not exist).
 */
export function checkWorkerAccess(
  identity: WorkerIdentity | null,
  paths: { app: string; chdir: string | null; workerMain: string },
  testAs: TestAs,
): void {
  if (identity === null) return;
  const who = identity.env.USER ?? (identity.uid === null ? `gid ${identity.gid}` : `uid ${identity.uid}`);
  const key = identity.uid === null ? 'group' : 'user';
  if (paths.chdir !== null && !testAs(identity, ['-x', paths.chdir])) {
    throw new ConfigError(key, `the workers (${who}) cannot enter chdir ${paths.chdir}`, {
      hint: 'give that user search (x) permission on the folder and every folder above it',
    });
  }
  if (!testAs(identity, ['-r', paths.workerMain])) {
    throw new ConfigError(key, `the workers (${who}) cannot read scgi-supervise's worker module ${paths.workerMain}`, {
      hint: 'install scgi-supervise where that user can read it (e.g. the app\'s own node_modules, or /usr/local/lib), not under /root',
    });
  }
  if (!testAs(identity, ['-r', paths.app])) {
    throw new ConfigError(key, `the workers (${who}) cannot read the app ${paths.app}`, {
      hint: 'make the app readable by that user, and every folder above it searchable (x), e.g. not under /root',
    });
  }
}

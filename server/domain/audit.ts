import type { Db } from '../db/connect.ts';
import * as auditDb from '../db/audit.ts';

export const AUDIT_ACTIONS = [
  'login',
  'login.failed',
  'logout',
  'password.change',
  'user.suspend',
  'user.unsuspend',
  'user.delete',
  'token.create',
  'token.revoke',
  'repo.create',
  'repo.delete',
  'repo.visibility',
  'collaborator.set',
  'collaborator.remove',
  'hook.create',
  'hook.delete',
  'model.version.create',
  'model.alias.move',
  'model.alias.override',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  action: AuditAction;
  actor: { id: number; username: string } | null;
  /** For failed logins: the name that was tried. */
  actorName?: string;
  target?: string;
  details?: Record<string, unknown>;
  address: string | null;
}

export interface AuditRecord {
  readonly id: number;
  readonly action: string;
  readonly actorId: number | null;
  readonly actor: string | null;
  readonly target: string | null;
  readonly details: Record<string, unknown> | null;
  readonly address: string | null;
  readonly createdAt: Date;
}

/** Security-relevant actions with who, from where and when; read by admins only. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(entry: AuditEntry): Promise<void> {
    await auditDb.insertAudit(this.db, {
      action: entry.action,
      actorId: entry.actor?.id ?? null,
      actorName: entry.actor?.username ?? (entry.actorName === undefined ? null : printable(entry.actorName)),
      target: entry.target ?? null,
      details: entry.details ?? null,
      address: entry.address,
    });
  }

  async list(filter: { action?: string; actor?: string }, page: { page: number; perPage: number }): Promise<{ entries: AuditRecord[]; total: number }> {
    const { rows, total } = await auditDb.listAudit(this.db, { action: filter.action || null, actor: filter.actor || null }, page.perPage, (page.page - 1) * page.perPage);
    return {
      entries: rows.map((r) => ({ id: Number(r.id), action: r.action, actorId: r.actor_id, actor: r.actor_name, target: r.target, details: r.details, address: r.address, createdAt: r.created_at })),
      total,
    };
  }
}

/** A name someone typed at a failed login is untrusted: NUL cannot be stored, control characters would forge log lines. */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  return value.slice(0, 200).replace(/[\x00-\x1f\x7f]/g, '?');
}

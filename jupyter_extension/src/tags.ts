/**
 * Writing a cell's role as a standard cell tag (`metadata.tags`).
 *
 * Which tags declare a role comes from the server (GET /nb2prod/roles), so
 * the panel replaces exactly the tags nb2prod reads and keeps all others.
 */
import type { ICellModel } from '@jupyterlab/cells';
import type { IRoles } from './schema';

function declaresRole(tag: string, vocabulary: IRoles): boolean {
  const name = tag.trim();
  return (
    vocabulary.role_tags.includes(name) ||
    vocabulary.role_tag_prefixes.some(prefix => name.startsWith(prefix))
  );
}

/** `tags` with their role tags replaced by the tag of `role` (none when null). */
export function tagsWithRole(tags: string[], role: string | null, vocabulary: IRoles): string[] {
  const kept = tags.filter(tag => !declaresRole(tag, vocabulary));
  return role === null ? kept : [...kept, vocabulary.tag_of[role] ?? `nb2prod:${role}`];
}

/** Set (or clear) the role of a cell in its metadata; a no-op when nothing changes. */
export function setCellRole(cell: ICellModel, role: string | null, vocabulary: IRoles): void {
  const current = cell.getMetadata('tags');
  const tags = Array.isArray(current) ? current.map(String) : [];
  const next = tagsWithRole(tags, role, vocabulary);
  if (JSON.stringify(next) === JSON.stringify(tags)) {
    return;
  }
  if (next.length) {
    cell.setMetadata('tags', next);
  } else {
    cell.deleteMetadata('tags');
  }
}

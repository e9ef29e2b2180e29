/**
 * The side panel: one row per code cell of the active notebook (panelView.ts), kept up
 * to date with its check report (panelState.ts).
 *
 * The widget renders the state on each change, and gives the keyboard focus back to the
 * control that had it (a row, a role picker) after a render; arrow keys move between
 * rows, Enter or Space on a row selects its cell.
 */
import type { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { nb2prodIcon } from './icon';
import { PanelModel, type RoleChange } from './panelState';
import { type IPanelActions, panelView } from './panelView';
import type { ICheckReport, IProblem, IRoles } from './schema';

export class RolesPanel extends Widget {
  constructor(tracker: INotebookTracker, vocabulary: Promise<IRoles>) {
    super();
    this.id = 'nb2prod-panel';
    this.addClass('jp-nb2prod-panel');
    this.title.icon = nb2prodIcon;
    this.title.caption = 'nb2prod: cell roles and problems';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'nb2prod cell roles');
    this.node.addEventListener('keydown', event => this.onKeydown(event));
    this.model = new PanelModel(vocabulary);
    this.model.changed.connect(this.render, this);
    tracker.currentChanged.connect(() => this.model.follow(tracker.currentWidget), this);
    this.model.follow(tracker.currentWidget);
  }

  /** The report currently shown (for the export dialog's defaults). */
  get report(): ICheckReport | null {
    return this.model.report;
  }

  /** Mark the rows of the cells an export failed on, and select the first. */
  highlight(problems: IProblem[]): void {
    const first = this.model.highlight(problems)[0];
    if (first) {
      this.selectCell(first.index);
      this.node.querySelector<HTMLElement>(`[data-cell-index="${first.index}"]`)?.focus();
    }
  }

  /** Check again now (also used after the notebook was saved by an export). */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  private render(): void {
    const focus = focusKey(this.node);
    this.node.replaceChildren(...panelView(this.model.state, this.actions));
    restoreFocus(this.node, focus);
  }

  private selectCell(index: number): void {
    const notebook = this.model.notebook?.content;
    if (!notebook || index >= notebook.widgets.length) {
      return;
    }
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    void notebook.scrollToCell(notebook.widgets[index], 'smart');
    this.render(); // the row of the active cell is marked
  }

  private onKeydown(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.jp-nb2prod-row');
    if (!row || event.target !== row) {
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this.selectCell(Number(row.dataset.cellIndex));
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    }
  }

  private readonly model: PanelModel;
  private readonly actions: IPanelActions = {
    setRoles: (changes: RoleChange[]) => void this.model.setRoles(changes),
    selectCell: (index: number) => this.selectCell(index)
  };
}

/** What has the keyboard focus in `panel` (its row, and which control), or null. */
function focusKey(panel: HTMLElement): string | null {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !panel.contains(active)) {
    return null;
  }
  const row = active.closest<HTMLElement>('.jp-nb2prod-row');
  const index = row?.dataset.cellIndex ?? '';
  return `${index}|${active === row ? 'row' : active.className}`;
}

/** Focus again what `focusKey` found, in the newly rendered panel. */
function restoreFocus(panel: HTMLElement, key: string | null): void {
  if (key === null) {
    return;
  }
  const [index, what] = key.split('|');
  const row = index ? panel.querySelector<HTMLElement>(`[data-cell-index="${index}"]`) : null;
  const scope = row ?? panel;
  const target =
    what === 'row'
      ? row
      : scope.querySelector<HTMLElement>(`.${what.split(' ').filter(Boolean).join('.')}`);
  (target ?? row)?.focus();
}

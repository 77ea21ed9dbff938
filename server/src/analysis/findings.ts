import type { Range } from './positions';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { hint: 0, information: 1, warning: 2, error: 3 };

export interface TextEdit {
  readonly range: Range;
  readonly newText: string;
}

export interface Fix {
  readonly title: string;
  /** Safe fixes keep behaviour; unsafe ones change training dynamics and say so in the title. */
  readonly safe: boolean;
  readonly edits: readonly TextEdit[];
}

export interface RelatedInformation {
  readonly message: string;
  readonly range: Range;
}

export interface Finding {
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  readonly range: Range;
  readonly related: readonly RelatedInformation[];
  readonly fixes: readonly Fix[];
}

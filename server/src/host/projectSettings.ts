import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SETTINGS, settingsFromPyproject, type AnalysisSettings } from '../analysis/settings';

export interface ProjectSettings {
  readonly settings: AnalysisSettings;
  /** The pyproject.toml the settings came from, if any. */
  readonly source: string | undefined;
  readonly problems: readonly string[];
}

/**
 * Finds the nearest pyproject.toml with a `[tool.regscope]` table, walking up from the file's
 * folder (as ruff and black do). Results are cached per folder for one run.
 */
export class ProjectSettingsFinder {
  private readonly cache = new Map<string, ProjectSettings>();

  forFile(file: string): ProjectSettings {
    return this.forDir(path.dirname(path.resolve(file)));
  }

  private forDir(dir: string): ProjectSettings {
    const hit = this.cache.get(dir);
    if (hit) return hit;
    let result: ProjectSettings | undefined;
    const candidate = path.join(dir, 'pyproject.toml');
    if (fs.existsSync(candidate)) {
      let text = '';
      try {
        text = fs.readFileSync(candidate, 'utf8');
      } catch (e) {
        result = { settings: DEFAULT_SETTINGS, source: candidate, problems: [`${candidate}: ${(e as Error).message}`] };
      }
      if (!result) {
        const { settings, problems } = settingsFromPyproject(text);
        if (settings || problems.length > 0) result = { settings: settings ?? DEFAULT_SETTINGS, source: candidate, problems: problems.map((p) => `${candidate}: ${p.message}`) };
      }
    }
    if (!result) {
      const parent = path.dirname(dir);
      result = parent === dir ? { settings: DEFAULT_SETTINGS, source: undefined, problems: [] } : this.forDir(parent);
    }
    this.cache.set(dir, result);
    return result;
  }
}

package stats

import "testing"

func TestCommonPeriod(t *testing.T) {
	if got := CommonPeriod(4, 6, 10); got != 60 {
		t.Errorf("CommonPeriod(4, 6, 10) = %d, want 60", got)
	}
}
